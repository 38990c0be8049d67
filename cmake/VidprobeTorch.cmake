# Imports libtorch from the PyPI `torch` wheel as the target vidprobe::torch.
#
# The wheel's own TorchConfig.cmake insists on a CUDA toolkit (nvcc) at configure time because the
# wheel is a CUDA build, although vidprobe compiles no CUDA code: it only calls libtorch. So we
# import the wheel's headers and shared libraries directly. libtorch_cuda is linked with
# --no-as-needed so that its CUDA backend registers itself at start-up; on a machine without a
# GPU it loads and simply reports no device. When the prefix holds no wheel layout (Debian's
# libtorch-dev), we fall back to find_package(Torch).
set(_vp_torch_root "")
foreach(_prefix IN LISTS CMAKE_PREFIX_PATH)
  if(EXISTS "${_prefix}/Torch/TorchConfig.cmake" AND EXISTS "${_prefix}/../../lib/libtorch_cpu.so")
    get_filename_component(_vp_torch_root "${_prefix}/../.." ABSOLUTE)
    break()
  endif()
endforeach()

add_library(vidprobe_torch_import INTERFACE)
add_library(vidprobe::torch ALIAS vidprobe_torch_import)

if(_vp_torch_root)
  message(STATUS "vidprobe: libtorch from the torch wheel at ${_vp_torch_root}")
  execute_process(
    COMMAND "${VIDPROBE_PYTHON}" -c "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))"
    OUTPUT_VARIABLE _vp_abi OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _vp_abi_rc)
  if(NOT _vp_abi_rc EQUAL 0)
    set(_vp_abi 1)  # every torch wheel since 2.7 uses the C++11 ABI
  endif()
  set(_lib "${_vp_torch_root}/lib")
  target_include_directories(vidprobe_torch_import SYSTEM INTERFACE
    "${_vp_torch_root}/include" "${_vp_torch_root}/include/torch/csrc/api/include")
  target_compile_definitions(vidprobe_torch_import INTERFACE _GLIBCXX_USE_CXX11_ABI=${_vp_abi})
  set(_vp_libs "${_lib}/libtorch.so" "${_lib}/libtorch_cpu.so" "${_lib}/libc10.so")
  if(EXISTS "${_lib}/libtorch_cuda.so")
    set(VIDPROBE_TORCH_HAS_CUDA ON)
    list(APPEND _vp_libs "-Wl,--no-as-needed" "${_lib}/libtorch_cuda.so" "${_lib}/libc10_cuda.so"
         "-Wl,--as-needed")
  endif()
  target_link_libraries(vidprobe_torch_import INTERFACE ${_vp_libs})
  # The wheel's libtorch.so exports its own copy of std::filesystem (remove_all and friends) whose
  # internal calls are unresolved in 2.11.0 and jump to address 0. Naming libstdc++ on the link
  # line before any object or library makes it the first DT_NEEDED entry, so the dynamic linker
  # binds std::filesystem to the system library and never to torch's copy. It is handed to the
  # linker as -l:libstdc++.so.6 because g++'s driver moves a plain -lstdc++ to the end of the
  # line (seen with Ubuntu's GCC 13), and with --no-as-needed because Ubuntu defaults to
  # --as-needed.
  target_link_options(vidprobe_torch_import INTERFACE "-Wl,-rpath,${_lib}"
    "LINKER:--push-state,--no-as-needed,-l:libstdc++.so.6,--pop-state")
else()
  find_package(Torch REQUIRED)
  message(STATUS "vidprobe: libtorch from find_package(Torch) at ${TORCH_INSTALL_PREFIX}")
  target_link_libraries(vidprobe_torch_import INTERFACE ${TORCH_LIBRARIES})
  target_compile_options(vidprobe_torch_import INTERFACE ${TORCH_CXX_FLAGS})
endif()
