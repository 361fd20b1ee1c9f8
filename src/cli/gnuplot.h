// PNG plots through gnuplot (Debian's gnuplot-nox), run as a program through a pipe: the one
// place the `mithril` command starts it (training curves of `mithril train --plot`, the batch-size
// sweep of `mithril bench`), so there is no plotting code of our own.
#pragma once

#include <string>

namespace mithril::cli {

// Feeds `script` to gnuplot, which is to write `png_path`. ValueError "[plot] ..." when gnuplot
// cannot be started, is not installed, fails (its messages go to standard output) or writes no
// `png_path`.
void run_gnuplot(const std::string& script, const std::string& png_path);

}  // namespace mithril::cli
