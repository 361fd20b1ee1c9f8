# ctest layers.upward_include_fails: the layer check must fail on a tree with upward includes and
# name the file, the include and the rule.
#   cmake -DCHECKER=cmake/check_layers.cmake -DWORK_DIR=<scratch dir> -P upward_include_fails.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
# core including runtime, and ops including graph (the cycle the ir layer removed).
file(WRITE "${WORK_DIR}/mithril/core/probe.h" "#pragma once\n#include \"mithril/core/dtype.h\"\n#include \"mithril/runtime/compile.h\"\n")
file(WRITE "${WORK_DIR}/mithril/ops/probe.cpp" "#include \"mithril/ir/ir.h\"\n#include \"mithril/graph/passes.h\"\n")
# A file that follows the rules is not reported.
file(WRITE "${WORK_DIR}/mithril/graph/fine.cpp" "#include \"mithril/ops/shape.h\"\n#include \"mithril/ir/ir.h\"\n")

execute_process(COMMAND "${CMAKE_COMMAND}" -DMITHRIL_LAYER_ROOT=${WORK_DIR} -DMITHRIL_LAYER_STAMP=${WORK_DIR}/stamp
                        -P "${CHECKER}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(out "${out}${err}")
string(REGEX REPLACE "\n +" " " flat "${out}")  # CMake wraps the first line of its error messages
if(rc EQUAL 0)
  message(FATAL_ERROR "the layer check passed a tree with upward includes:\n${out}")
endif()
if(EXISTS "${WORK_DIR}/stamp")
  message(FATAL_ERROR "the layer check wrote its stamp although it failed")
endif()
foreach(expected
    "layer check: 2 violation(s)"
    "mithril/core/probe.h: #include \"mithril/runtime/compile.h\": upward include: runtime is not below core (rule \"core:\""
    "mithril/ops/probe.cpp: #include \"mithril/graph/passes.h\": upward include: graph is not below ops (rule \"ops: core ir\"")
  string(FIND "${flat}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the layer check's message lacks '${expected}':\n${out}")
  endif()
endforeach()
string(FIND "${flat}" "fine.cpp" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "the layer check reported a file that follows the rules:\n${out}")
endif()
message(STATUS "the layer check fails as it should:\n${out}")
file(REMOVE_RECURSE "${WORK_DIR}")
