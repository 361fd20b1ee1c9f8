// Subcommands that live in their own files. Each add_*_command() adds its subcommand and
// options to the app; the subcommand's callback runs it during parse() and stores the process
// exit status in `status`. Errors propagate as exceptions to main(), which prints them.
#pragma once

#include <CLI/CLI.hpp>

namespace mithril::cli {

void add_train_command(CLI::App& app, int& status);  // train_command.cpp
void add_bench_command(CLI::App& app, int& status);  // bench_command.cpp
void add_profile_command(CLI::App& app, int& status);  // profile_command.cpp
void add_quantize_command(CLI::App& app, int& status);  // quantize_command.cpp

}  // namespace mithril::cli
