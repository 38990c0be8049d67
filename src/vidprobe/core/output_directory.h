#pragma once
// Writers leave "<name>.tmp.<pid>.<n>" temporaries behind when they are killed
// (core/atomic_file.h): harmless to readers, which never accept them, but they fill the disk over
// many interrupted runs. Every writer into a directory (feature cache, train run, render, annotate)
// starts with prepare_output_directory, which removes those of processes that are gone.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace vidprobe {

// The pid in a temporary's name ("<name>.tmp.<pid>.<n>"); nullopt for any other name.
std::optional<long> temporary_owner_pid(std::string_view file_name);

// Removes the temporaries (files or directories) directly in `dir` whose pid is no live process
// (kill(pid, 0) fails with ESRCH); a live process's, this one's included, are kept. Returns how
// many were removed. A missing `dir` has none.
std::size_t remove_stale_temporaries(const std::filesystem::path& dir);

// Creates `dir` and removes its stale temporaries, saying on stderr how many when there were
// any (`writer` names the command, e.g. "extract").
void prepare_output_directory(const std::filesystem::path& dir, const std::string& writer);

}  // namespace vidprobe
