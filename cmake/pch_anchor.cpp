// Anchor of a precompiled header (the modules', the apps' or the tests'): an empty file that
// CMake compiles once to build the header, which the other targets then reuse.
