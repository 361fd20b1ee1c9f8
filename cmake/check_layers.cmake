# Checks that every include between layers follows the table in MithrilLayers.cmake:
#   cmake -DMITHRIL_LAYER_ROOT=<dir holding mithril/> [-DMITHRIL_LAYER_STAMP=<file>] -P check_layers.cmake
# Scans the sources of <root>/mithril/<layer>/ for #include "mithril/<other>/..." and fails, naming
# the file, the include and the rule, when <other> is not the layer itself or one of the
# layers its row lists. A folder of <root>/mithril that is no layer of the table fails too. On
# success it touches MITHRIL_LAYER_STAMP (the build runs it as a step of every layer library).
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/MithrilLayers.cmake)

if(NOT MITHRIL_LAYER_ROOT OR NOT IS_DIRECTORY "${MITHRIL_LAYER_ROOT}/mithril")
  message(FATAL_ERROR "check_layers: MITHRIL_LAYER_ROOT='${MITHRIL_LAYER_ROOT}' has no mithril/ folder")
endif()
set(root "${MITHRIL_LAYER_ROOT}/mithril")

# The layers below each layer (what its row lists, and theirs, ...), to tell an upward include from
# an include of a lower layer that the row does not list.
foreach(layer IN LISTS MITHRIL_LAYERS)
  set(below_${layer} ${MITHRIL_LAYER_DEPS_${layer}})
  foreach(dep IN LISTS MITHRIL_LAYER_DEPS_${layer})
    list(APPEND below_${layer} ${below_${dep}})
  endforeach()
  list(REMOVE_DUPLICATES below_${layer})
endforeach()

set(violations "")
file(GLOB entries RELATIVE "${root}" "${root}/*")
foreach(entry IN LISTS entries)
  if(NOT IS_DIRECTORY "${root}/${entry}")
    list(APPEND violations "${root}/${entry}: files of src/mithril belong to a layer folder (layers: ${MITHRIL_LAYERS})")
  elseif(NOT entry IN_LIST MITHRIL_LAYERS)
    list(APPEND violations "${root}/${entry}/: '${entry}' is not a layer: add a row for it to MITHRIL_LAYER_TABLE in cmake/MithrilLayers.cmake")
  endif()
endforeach()

foreach(layer IN LISTS MITHRIL_LAYERS)
  file(GLOB_RECURSE files "${root}/${layer}/*.h" "${root}/${layer}/*.hpp" "${root}/${layer}/*.cpp"
       "${root}/${layer}/*.def" "${root}/${layer}/*.inc")
  list(SORT files)
  set(allowed ${layer} ${MITHRIL_LAYER_DEPS_${layer}})
  list(JOIN MITHRIL_LAYER_DEPS_${layer} " " row)
  string(STRIP "${layer}: ${row}" row)
  foreach(file IN LISTS files)
    file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]mithril/")
    foreach(line IN LISTS lines)
      if(NOT line MATCHES "[\"<](mithril/([^/\">]+)/[^\">]*)[\">]")
        continue()
      endif()
      set(path "${CMAKE_MATCH_1}")
      set(target "${CMAKE_MATCH_2}")
      if(target IN_LIST allowed)
        continue()
      endif()
      if(NOT target IN_LIST MITHRIL_LAYERS)
        set(why "'${target}' is not a layer")
      elseif(target IN_LIST below_${layer})
        set(why "${target} is below ${layer} but not in its row: add it there if ${layer} is to use it")
      else()
        set(why "upward include: ${target} is not below ${layer}")
      endif()
      list(APPEND violations
           "${file}: #include \"${path}\": ${why} (rule \"${row}\": ${layer} includes only itself and the layers of its row)")
    endforeach()
  endforeach()
endforeach()

# Inside the backends layer: a backend's folder includes the seam (backends/*.h), not another backend.
foreach(backend IN LISTS MITHRIL_BACKENDS)
  file(GLOB_RECURSE files "${root}/backends/${backend}/*.h" "${root}/backends/${backend}/*.cpp")
  list(SORT files)
  foreach(file IN LISTS files)
    file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]mithril/backends/[^/\">]+/")
    foreach(line IN LISTS lines)
      if(line MATCHES "[\"<](mithril/backends/([^/\">]+)/[^\">]*)[\">]" AND NOT CMAKE_MATCH_2 STREQUAL backend)
        list(APPEND violations "${file}: #include \"${CMAKE_MATCH_1}\": backend ${backend} includes another backend "
                               "(${CMAKE_MATCH_2}); backends meet only through the seam in backends/*.h")
      endif()
    endforeach()
  endforeach()
endforeach()
file(GLOB backend_dirs LIST_DIRECTORIES true RELATIVE "${root}/backends" "${root}/backends/*")
foreach(dir IN LISTS backend_dirs)
  if(IS_DIRECTORY "${root}/backends/${dir}" AND NOT dir IN_LIST MITHRIL_BACKENDS)
    list(APPEND violations "${root}/backends/${dir}/: '${dir}' is not a backend: add its MI_BACKEND line to src/mithril/backends/backends.def")
  endif()
endforeach()

if(violations)
  list(LENGTH violations n)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "layer check: ${n} violation(s) of the layer rules in cmake/MithrilLayers.cmake "
                      "(dependencies point downward only, see docs/ARCHITECTURE.md):\n  ${text}\n")
endif()
if(MITHRIL_LAYER_STAMP)
  file(TOUCH "${MITHRIL_LAYER_STAMP}")
endif()
