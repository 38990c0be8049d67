set -u
export VIDPROBE_AB_TARGETS="vidprobe vidprobe_nn_tests vidprobe_backbones_tests"
export VIDPROBE_NN_TESTS='BlockCuda.*:ResidualNorm*'
export VIDPROBE_BACKBONES_TESTS='CheckpointCuda.*:OpenSoraMmditCuda.*:Variants/CogVideoXVariantCuda.*'
mkdir -p $OUT/r
( time timeout 330 bash scripts/gpu-ab-batch.sh $OUT/r/tests ) > $OUT/r/tests.log 2>&1; tail -15 $OUT/r/tests.log
( time VIDPROBE_OFFICIAL_FAMILIES=vjepa1 VIDPROBE_VJEPA1_ITERS=2 timeout 140 bash scripts/gpu-official.sh $OUT/r/vjepa1 ) > $OUT/r/vjepa1.log 2>&1; grep -h 'real_size_parity\|speed_ratio\|real ' $OUT/r/vjepa1.log
export VIDPROBE_AB_TARGETS=vidprobe VIDPROBE_NN_TESTS= VIDPROBE_BACKBONES_TESTS=
( time VIDPROBE_AB_STOP_AFTER=5 timeout $((575 - SECONDS)) bash scripts/gpu-ab-batch.sh $OUT/r/ab 'ab-patches/video-vit-deferred-ff.patch|videomae-large|16|2' ) > $OUT/r/ab.log 2>&1; tail -20 $OUT/r/ab.log
tar -C $OUT -czf $OUT/call1.tgz r && rm -rf $OUT/r
