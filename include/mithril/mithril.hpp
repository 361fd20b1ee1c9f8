// Mithril C++: the user API in one include.
//
//   #include <mithril/mithril.hpp>
//
// gives tensors and dtypes, logical models (composition, the model library, model dicts, train
// models), the backends (CpuBackend, ReferenceBackend, GgmlBackend, make_backend by name), compile() with its
// options, benchmarks and summaries, and the training library
// (optimizers, schedules, datasets, data loaders, the Trainer, checkpoints, built-in networks).
// The layer headers stay available one by one ("mithril/<layer>/<name>.h", the layout of
// src/mithril), for the parts this header leaves out (ops, graphs, kernels, io, conformance).
// Link mithril::mithril (CMake) or `pkg-config --libs mithril`.
#pragma once

#include "mithril/backends/backend.h"
#include "mithril/backends/cpu/cpu_backend.h"
#include "mithril/backends/ggml/ggml_backend.h"
#include "mithril/backends/reference/reference_backend.h"
#include "mithril/core/dtype.h"
#include "mithril/core/error.h"
#include "mithril/core/random.h"
#include "mithril/core/tensor.h"
#include "mithril/logical/library.h"
#include "mithril/logical/model.h"
#include "mithril/logical/model_dict.h"
#include "mithril/logical/train_model.h"
#include "mithril/parallel/communicator.h"
#include "mithril/parallel/device_mesh.h"
#include "mithril/parallel/gradient_reducer.h"
#include "mithril/runtime/benchmark.h"
#include "mithril/runtime/compile.h"
#include "mithril/runtime/compile_options.h"
#include "mithril/runtime/summary.h"
#include "mithril/train/checkpoint.h"
#include "mithril/train/data_loader.h"
#include "mithril/train/dataset.h"
#include "mithril/train/grad_clip.h"
#include "mithril/train/lr_schedule.h"
#include "mithril/train/models.h"
#include "mithril/train/optimizer.h"
#include "mithril/train/trainer.h"
