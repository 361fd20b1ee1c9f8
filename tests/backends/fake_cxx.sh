#!/bin/sh
# A C++ compiler that reports a version and fails every compile with a compiler-style error:
# the jit backend's compile-failure message must show this first error and the source path.
if [ "$1" = "--version" ]; then echo "fake-c++ 1.0"; exit 0; fi
echo "generated.cpp:1:1: note: this line is not the error" >&2
echo "generated.cpp:2:7: error: this compiler fails on purpose" >&2
echo "generated.cpp:3:1: error: a second error" >&2
exit 1
