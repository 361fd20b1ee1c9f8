#include "cli/gnuplot.h"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "mithril/core/error.h"

namespace mithril::cli {

void run_gnuplot(const std::string& script, const std::string& png_path) {
  FILE* p = popen("gnuplot 2>&1", "w");
  MI_CHECK(p != nullptr, ValueError, "[plot] cannot start gnuplot (install gnuplot-nox: scripts/setup.sh)");
  std::fwrite(script.data(), 1, script.size(), p);
  const int status = pclose(p);
  MI_CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, ValueError,
           "[plot] gnuplot failed (exit status {}){}", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
           WIFEXITED(status) && WEXITSTATUS(status) == 127 ? ": gnuplot is not installed (scripts/setup.sh installs gnuplot-nox)" : "");
  MI_CHECK(std::filesystem::exists(png_path), ValueError, "[plot] gnuplot wrote no '{}'", png_path);
}

}  // namespace mithril::cli
