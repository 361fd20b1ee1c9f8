# The layers of src/mithril and the layers each one uses: the one table behind both the link
# dependencies of the layer libraries (src/CMakeLists.txt) and the include check
# (cmake/check_layers.cmake), documented in docs/ARCHITECTURE.md.
#
# One row per layer, bottom-up: "layer: the layers below it whose headers it includes". A row may
# name only layers of the rows above it, so dependencies point downward and cannot form a cycle.
# A file of src/mithril/<layer>/ may include "mithril/<layer>/..." and "mithril/<dep>/..." for
# the deps of its row, nothing else; each layer library links exactly the libraries of its row.
set(MITHRIL_LAYER_TABLE
  "core:"
  "io: core"
  "ir: core"
  "ops: core ir"
  "graph: core ir ops"
  "backends: core ir ops graph"
  "logical: core io ir ops"
  "runtime: core io ops graph backends logical"
  "parallel: core"
  "train: core io logical runtime parallel"
  "conformance: core io ops backends logical runtime"
)

# The backends: one folder each under src/mithril/backends/, one static library each
# (mithril_backend_<name>), over the seam in src/mithril/backends/*.h (mithril_backend_api: the
# Backend and Executable interfaces, kernel tables); mithril_backends is the registry of them all.
# Their list is src/mithril/backends/backends.def (one MI_BACKEND(name) line each), read here, so
# adding a backend is its folder plus that line. A backend's folder includes the seam and lower
# layers, never another backend.
file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/../src/mithril/backends/backends.def" MITHRIL_BACKEND_LINES
     REGEX "^MI_BACKEND\\([a-z_0-9]+\\)")
set(MITHRIL_BACKENDS "")
if(NOT CMAKE_SCRIPT_MODE_FILE)  # a new line there re-runs the configuration
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
               "${CMAKE_CURRENT_LIST_DIR}/../src/mithril/backends/backends.def")
endif()
foreach(line IN LISTS MITHRIL_BACKEND_LINES)
  string(REGEX REPLACE "^MI_BACKEND\\(([a-z_0-9]+)\\).*" "\\1" name "${line}")
  list(APPEND MITHRIL_BACKENDS ${name})
endforeach()

# Parses the table into MITHRIL_LAYERS (bottom-up) and MITHRIL_LAYER_DEPS_<layer>; a row that names
# an unknown layer, a layer of a later row or itself is a configuration error.
function(mithril_parse_layer_table)
  set(layers "")
  foreach(row IN LISTS MITHRIL_LAYER_TABLE)
    if(NOT row MATCHES "^([a-z_0-9]+):(.*)$")
      message(FATAL_ERROR "layer table: malformed row '${row}' (expected 'layer: dep dep ...')")
    endif()
    set(layer "${CMAKE_MATCH_1}")
    string(STRIP "${CMAKE_MATCH_2}" deps)
    separate_arguments(deps UNIX_COMMAND "${deps}")
    if(layer IN_LIST layers)
      message(FATAL_ERROR "layer table: '${layer}' has two rows")
    endif()
    foreach(dep IN LISTS deps)
      if(NOT dep IN_LIST layers)
        message(FATAL_ERROR "layer table: '${layer}' uses '${dep}', which is not a layer of an earlier row "
                            "(rows are bottom-up: a layer may use only the layers above its row)")
      endif()
    endforeach()
    list(APPEND layers ${layer})
    set(MITHRIL_LAYER_DEPS_${layer} ${deps} PARENT_SCOPE)
  endforeach()
  set(MITHRIL_LAYERS ${layers} PARENT_SCOPE)
endfunction()

mithril_parse_layer_table()

# The library targets of a layer: mithril_<layer>, or one mithril_backend_<name> per backend.
function(mithril_layer_targets layer out)
  if(layer STREQUAL "backends")
    set(targets mithril_backend_api)
    foreach(b IN LISTS MITHRIL_BACKENDS)
      list(APPEND targets mithril_backend_${b})
    endforeach()
    list(APPEND targets mithril_backends)
  else()
    set(targets mithril_${layer})
  endif()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()
