#include "mithril/logical/shape_inference.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <set>

#include "mithril/core/error.h"
#include "mithril/io/json_tensor.h"

namespace mithril::logical {
namespace {

// A symbolic shape: prefix dims, an optional variadic part, suffix dims (empty when no variadic).
struct Sym {
  std::vector<int> pre;
  int var = -1;
  std::vector<int> post;
  bool fixed() const { return var < 0; }
};

// A failed unification; the caller adds which key, blocks and shapes.
struct Conflict {
  std::string why;
};

bool is_variadic(const std::string& s) { return s == "..." || (s.size() > 4 && s.substr(s.size() - 4) == ",..."); }

std::string variadic_name(const std::string& s) { return s == "..." ? "" : s.substr(0, s.size() - 4); }

}  // namespace

struct SymbolicShapes::Impl {
  // What the rules read: the edges and calls of a flat model. Ports name their edges directly
  // (a compacted FlatModel) or through `parent`, the union-find of a model still being
  // flattened (Model::add's incremental check), whose edge ids are then resolved to roots.
  const FlatModel* flat = nullptr;  // for key names in messages; null while flattening
  const std::vector<Edge>* edges = nullptr;
  const std::vector<PrimCall>* calls = nullptr;
  std::vector<EdgeId>* parent = nullptr;
  struct Dim {
    int parent;
    std::optional<int64_t> value;
    std::string name;
  };
  struct Variadic {
    int parent;
    std::optional<Sym> binding;
    std::string name;
  };
  std::vector<Dim> dims;
  std::vector<Variadic> vars;
  std::vector<std::optional<Sym>> shape;  // per edge
  std::vector<std::string> origin;        // per edge: who first gave it a shape
  std::map<std::string, int> fresh;       // fresh dims/variadics created by rules, made once each
  size_t version = 0;
  bool equal_partners = false;

  // Propagation re-runs only the rules whose inputs changed. A rule reads the shapes of its
  // call's edges; a call is listed with every edge it reads (`users`) and with every dim and
  // variadic root those shapes held when it last ran (`dim_deps`, `var_deps`). A change (an
  // edge gets its first shape, a dim a value, a variadic a binding, two roots merge) wakes the
  // calls listed with what changed; rules of unchanged inputs would only repeat themselves.
  // Woken calls run in passes in call order, as a sweep over all calls would run them.
  std::vector<std::vector<int>> users, dim_deps, var_deps;
  std::vector<char> in_now, in_next;  // per call: queued for this pass / the next one
  std::vector<int> now_heap, next;    // this pass (a min-heap of call indices), the next pass
  int cursor = INT32_MAX;             // the call running in the current pass; INT32_MAX outside one

  EdgeId root(EdgeId e) const {
    if (!parent) return e;
    std::vector<EdgeId>& p = *parent;
    while (p[static_cast<size_t>(e)] != e) e = p[static_cast<size_t>(e)] = p[static_cast<size_t>(p[static_cast<size_t>(e)])];
    return e;
  }
  const Edge& edge(EdgeId e) const { return (*edges)[static_cast<size_t>(root(e))]; }
  EdgeId port(const PrimCall& c, const std::string& name) const { return root(c.ports.at(name)); }
  const PrimCall& call(size_t i) const { return (*calls)[i]; }
  size_t num_calls() const { return calls->size(); }

  void wake(int c) {
    const auto i = static_cast<size_t>(c);
    if (c > cursor) {
      if (in_now[i]) return;
      in_now[i] = 1;
      now_heap.push_back(c);
      std::push_heap(now_heap.begin(), now_heap.end(), std::greater<>());
    } else if (!in_next[i]) {
      in_next[i] = 1;
      next.push_back(c);
    }
  }
  void wake_all(const std::vector<int>& cs) {
    for (int c : cs) wake(c);
  }
  // Moves the calls listed with `from` to `to` (the smaller list into the larger).
  static void merge_lists(std::vector<int>& to, std::vector<int>& from) {
    if (to.size() < from.size()) to.swap(from);
    to.insert(to.end(), from.begin(), from.end());
    from.clear();
    from.shrink_to_fit();
  }

  int new_dim(std::optional<int64_t> value, std::string name) {
    dims.push_back({static_cast<int>(dims.size()), value, std::move(name)});
    dim_deps.emplace_back();
    return static_cast<int>(dims.size()) - 1;
  }
  int new_var(std::string name) {
    vars.push_back({static_cast<int>(vars.size()), std::nullopt, std::move(name)});
    var_deps.emplace_back();
    return static_cast<int>(vars.size()) - 1;
  }
  int once(const std::string& key, bool variadic) {
    const auto it = fresh.find(key);
    if (it != fresh.end()) return it->second;
    const int id = variadic ? new_var("") : new_dim(std::nullopt, "");
    fresh.emplace(key, id);
    return id;
  }
  int find_dim(int d) {
    while (dims[static_cast<size_t>(d)].parent != d) d = dims[static_cast<size_t>(d)].parent = dims[static_cast<size_t>(dims[static_cast<size_t>(d)].parent)].parent;
    return d;
  }
  int find_var(int v) {
    while (vars[static_cast<size_t>(v)].parent != v) v = vars[static_cast<size_t>(v)].parent = vars[static_cast<size_t>(vars[static_cast<size_t>(v)].parent)].parent;
    return v;
  }

  // Lists call `c` with every dim and variadic root in `s`.
  void depend(int c, const Sym& s) {
    for (int d : s.pre) dim_deps[static_cast<size_t>(find_dim(d))].push_back(c);
    if (s.var >= 0) {
      const int v = find_var(s.var);
      var_deps[static_cast<size_t>(v)].push_back(c);
      if (const auto& b = vars[static_cast<size_t>(v)].binding) depend(c, *b);
    }
    for (int d : s.post) dim_deps[static_cast<size_t>(find_dim(d))].push_back(c);
  }
  void depend_on_edge(int c, EdgeId e) {
    if (const auto& s = shape[static_cast<size_t>(e)]) depend(c, *s);
  }

  // Substitutes bound variadics and maps dims to their roots.
  Sym norm(const Sym& s) {
    Sym out;
    for (int d : s.pre) out.pre.push_back(find_dim(d));
    if (s.var >= 0) {
      const int v = find_var(s.var);
      if (vars[static_cast<size_t>(v)].binding) {
        const Sym inner = norm(*vars[static_cast<size_t>(v)].binding);
        out.pre.insert(out.pre.end(), inner.pre.begin(), inner.pre.end());
        out.var = inner.var;
        out.post = inner.post;
      } else {
        out.var = v;
      }
    }
    for (int d : s.post) (out.var >= 0 ? out.post : out.pre).push_back(find_dim(d));
    return out;
  }

  // What str() prints of a shape, captured without formatting: a unification that fails has
  // changed dims on the way, so its message needs the shapes as they were before it started,
  // and formatting them for every unification that succeeds would cost more than the rest.
  struct Printed {
    struct Part {
      std::optional<int64_t> value;
      std::string name;
      bool variadic = false;
    };
    std::vector<Part> parts;
  };
  Printed printed(const Sym& raw) {
    const Sym s = norm(raw);
    Printed p;
    auto dim = [&](int d) {
      const Dim& x = dims[static_cast<size_t>(find_dim(d))];
      p.parts.push_back({x.value, x.value ? std::string() : x.name, false});
    };
    for (int d : s.pre) dim(d);
    if (s.var >= 0) p.parts.push_back({std::nullopt, vars[static_cast<size_t>(s.var)].name, true});
    for (int d : s.post) dim(d);
    return p;
  }
  static std::string str(const Printed& p) {
    std::vector<std::string> parts;
    for (const Printed::Part& x : p.parts) {
      if (x.variadic) parts.push_back(fmt::format("{}...", x.name));
      else if (x.value) parts.push_back(std::to_string(*x.value));
      else parts.push_back(x.name.empty() ? "_" : x.name);
    }
    return fmt::format("[{}]", fmt::join(parts, ", "));
  }
  std::string str(const Sym& raw) { return str(printed(raw)); }

  void unify_dim(int a, int b, size_t position) {
    a = find_dim(a);
    b = find_dim(b);
    if (a == b) return;
    Dim& da = dims[static_cast<size_t>(a)];
    Dim& db = dims[static_cast<size_t>(b)];
    if (da.value && db.value && *da.value != *db.value)
      throw Conflict{fmt::format("dim {} is {} vs {}", position, *da.value, *db.value)};
    // The merged dim takes a's value and name, else b's. Which root survives only matters for
    // cost: the one more calls read, so that waking the other side's readers stays cheap.
    const std::optional<int64_t> value = da.value ? da.value : db.value;
    std::string name = da.name.empty() ? db.name : da.name;
    if (dim_deps[static_cast<size_t>(a)].size() < dim_deps[static_cast<size_t>(b)].size()) std::swap(a, b);
    Dim& keep = dims[static_cast<size_t>(a)];
    wake_all(dim_deps[static_cast<size_t>(b)]);  // b's readers now see a
    if (keep.value != value) wake_all(dim_deps[static_cast<size_t>(a)]);
    keep.value = value;
    keep.name = std::move(name);
    dims[static_cast<size_t>(b)].parent = a;
    merge_lists(dim_deps[static_cast<size_t>(a)], dim_deps[static_cast<size_t>(b)]);
    ++version;
  }

  void bind(int v, Sym s) {
    v = find_var(v);
    s = norm(s);
    if (s.var == v) {
      if (!s.pre.empty() || !s.post.empty()) throw Conflict{"a variadic part would contain itself"};
      return;
    }
    if (s.pre.empty() && s.post.empty() && s.var >= 0) {  // variadic = variadic: merge
      // The merged variadic is named after s.var, else v; the root more calls read survives.
      int keep = s.var, gone = v;
      std::string name = vars[static_cast<size_t>(s.var)].name.empty() ? vars[static_cast<size_t>(v)].name
                                                                        : vars[static_cast<size_t>(s.var)].name;
      if (var_deps[static_cast<size_t>(keep)].size() < var_deps[static_cast<size_t>(gone)].size()) std::swap(keep, gone);
      wake_all(var_deps[static_cast<size_t>(gone)]);
      vars[static_cast<size_t>(gone)].parent = keep;
      vars[static_cast<size_t>(keep)].name = std::move(name);
      merge_lists(var_deps[static_cast<size_t>(keep)], var_deps[static_cast<size_t>(gone)]);
    } else {
      wake_all(var_deps[static_cast<size_t>(v)]);
      vars[static_cast<size_t>(v)].binding = s;
    }
    ++version;
  }

  void unify(const Sym& x, const Sym& y) {
    Sym a = norm(x), b = norm(y);
    if (a.fixed() && b.fixed()) {
      if (a.pre.size() != b.pre.size())
        throw Conflict{fmt::format("rank {} vs {}", a.pre.size(), b.pre.size())};
      for (size_t i = 0; i < a.pre.size(); ++i) unify_dim(a.pre[i], b.pre[i], i);
      return;
    }
    if (a.fixed()) std::swap(a, b);
    if (b.fixed()) {  // a variadic, b fixed
      const size_t need = a.pre.size() + a.post.size();
      if (b.pre.size() < need) throw Conflict{fmt::format("rank {} vs at least {}", b.pre.size(), need)};
      for (size_t i = 0; i < a.pre.size(); ++i) unify_dim(a.pre[i], b.pre[i], i);
      const size_t off = b.pre.size() - a.post.size();
      for (size_t i = 0; i < a.post.size(); ++i) unify_dim(a.post[i], b.pre[off + i], off + i);
      Sym mid;
      mid.pre.assign(b.pre.begin() + static_cast<long>(a.pre.size()), b.pre.begin() + static_cast<long>(off));
      bind(a.var, mid);
      return;
    }
    const size_t k = std::min(a.pre.size(), b.pre.size()), m = std::min(a.post.size(), b.post.size());
    for (size_t i = 0; i < k; ++i) unify_dim(a.pre[i], b.pre[i], i);
    for (size_t i = 0; i < m; ++i)
      unify_dim(a.post[a.post.size() - 1 - i], b.post[b.post.size() - 1 - i], i);
    auto rest = [](const std::vector<int>& v, size_t from, size_t to) {
      return std::vector<int>(v.begin() + static_cast<long>(from), v.begin() + static_cast<long>(to));
    };
    const Sym ra{rest(a.pre, k, a.pre.size()), a.var, rest(a.post, 0, a.post.size() - m)};
    const Sym rb{rest(b.pre, k, b.pre.size()), b.var, rest(b.post, 0, b.post.size() - m)};
    if (find_var(a.var) == find_var(b.var)) {
      if (!ra.pre.empty() || !rb.pre.empty() || !ra.post.empty() || !rb.post.empty())
        throw Conflict{"the same variadic part with different dims around it"};
      return;
    }
    if (ra.pre.empty() && ra.post.empty()) return bind(a.var, rb);
    if (rb.pre.empty() && rb.post.empty()) return bind(b.var, ra);
    const int w = new_var("");
    if (ra.pre.empty()) {  // a.var ++ ra.post == rb.pre ++ b.var
      bind(a.var, Sym{rb.pre, w, {}});
      bind(b.var, Sym{{}, w, ra.post});
    } else {
      bind(b.var, Sym{ra.pre, w, {}});
      bind(a.var, Sym{{}, w, rb.post});
    }
  }

  // A template instantiated in `scope` (symbols of one scope are shared).
  Sym instantiate(const json& t, const std::string& scope, std::map<std::string, int>& symbols) {
    MI_CHECK(t.is_array(), ShapeError, "[shapes] a shape must be a list of dims, got {}", t.dump());
    Sym s;
    for (const json& d : t) {
      std::vector<int>& target = s.var >= 0 ? s.post : s.pre;
      if (d.is_number_integer()) {
        MI_CHECK(d.get<int64_t>() >= 0, ShapeError, "[shapes] dim {} of {} is negative", d.dump(), t.dump());
        target.push_back(new_dim(d.get<int64_t>(), ""));
        continue;
      }
      MI_CHECK(d.is_string() || d.is_null(), ShapeError,
               "[shapes] a dim must be an integer, a name, null or \"name,...\", got {} in {}", d.dump(), t.dump());
      const std::string name = d.is_null() ? "" : d.get<std::string>();
      if (is_variadic(name)) {
        MI_CHECK(s.var < 0, ShapeError, "[shapes] {} has more than one variadic part", t.dump());
        const std::string vn = variadic_name(name);
        if (vn.empty()) {
          s.var = new_var("");
        } else {
          const std::string key = scope + "\x1f..." + vn;
          if (!symbols.count(key)) symbols[key] = new_var(vn);
          s.var = symbols[key];
        }
        continue;
      }
      if (name.empty()) {
        target.push_back(new_dim(std::nullopt, ""));
        continue;
      }
      const std::string key = scope + "\x1f" + name;
      if (!symbols.count(key)) symbols[key] = new_dim(std::nullopt, name);
      target.push_back(symbols[key]);
    }
    return s;
  }

  std::string edge_label(EdgeId e) const { return flat ? flat->name(e) : edge(e).origin; }

  // "'m0' (Add)": a call by its path in the model (its primitive's name at the top level).
  static std::string call_name(const PrimCall& c) {
    return fmt::format("'{}' ({})", c.path.empty() ? c.def.name : c.path, c.def.name);
  }
  static std::string block(const PrimCall& c, const std::string& port) {
    return fmt::format("{}, port '{}'", call_name(c), port);
  }

  // Unifies a key's shape with `s`; `who` describes where `s` comes from.
  void constrain(EdgeId e, const Sym& s, const std::string& who) {
    const size_t i = static_cast<size_t>(e);
    if (!shape[i]) {
      shape[i] = s;
      origin[i] = who;
      wake_all(users[i]);
      ++version;
      return;
    }
    const Printed before = printed(*shape[i]), given = printed(s);
    try {
      unify(*shape[i], s);
    } catch (const Conflict& c) {
      throw ShapeError(fmt::format("[shapes] key '{}': {} from {} conflicts with {} from {}: {}", edge_label(e),
                                   str(before), origin[i], str(given), who, c.why));
    }
  }

  std::optional<Shape> concrete(EdgeId e) {
    const auto& s = shape[static_cast<size_t>(e)];
    if (!s) return std::nullopt;
    const Sym n = norm(*s);
    if (!n.fixed()) return std::nullopt;
    Shape out;
    for (int d : n.pre) {
      const auto& v = dims[static_cast<size_t>(d)].value;
      if (!v) return std::nullopt;
      out.push_back(*v);
    }
    return out;
  }

  bool pin_free_dim(EdgeId e, int64_t value) {
    const auto& s = shape[static_cast<size_t>(e)];
    if (!s) return false;
    const Sym n = norm(*s);
    if (!n.fixed()) return false;
    for (int d : n.pre)
      if (!dims[static_cast<size_t>(d)].value) {
        dims[static_cast<size_t>(d)].value = value;
        wake_all(dim_deps[static_cast<size_t>(d)]);
        ++version;
        return true;
      }
    return false;
  }

  Sym of_shape(const Shape& s) {
    Sym out;
    for (int64_t d : s) out.pre.push_back(new_dim(d, ""));
    return out;
  }

  // ---- rules ----

  // Broadcast of two dims (NumPy): 1 gives way, equal dims stay; an unknown pair gives a fresh
  // dim (made once per call and position so that repeated passes change nothing).
  int broadcast_dim(int a, int b, const std::string& fresh_key) {
    a = find_dim(a);
    b = find_dim(b);
    if (a == b) return a;
    const auto& va = dims[static_cast<size_t>(a)].value;
    const auto& vb = dims[static_cast<size_t>(b)].value;
    if (va && *va == 1) return b;
    if (vb && *vb == 1) return a;
    if (va && vb) {
      if (*va != *vb) throw Conflict{fmt::format("dims {} and {} cannot be broadcast", *va, *vb)};
      return a;
    }
    if (va) return a;  // the other one is va or 1: the result is va either way
    if (vb) return b;
    return once(fresh_key, false);
  }

  // Broadcast of two shapes when their right-aligned dims are known: both fixed, or one fixed
  // and covered by the other's suffix, or the same shape. nullopt when not decidable yet.
  std::optional<Sym> broadcast(const Sym& x, const Sym& y, const std::string& key) {
    Sym a = norm(x), b = norm(y);
    if (!a.fixed() && !b.fixed()) {
      if (a.var == b.var && a.pre == b.pre && a.post == b.post) return a;
      return std::nullopt;
    }
    if (!a.fixed() && b.fixed()) std::swap(a, b);
    // a is fixed.
    std::vector<int>& bd = b.fixed() ? b.pre : b.post;
    if (!b.fixed() && bd.size() < a.pre.size()) return std::nullopt;
    Sym out = b;
    std::vector<int>& od = out.fixed() ? out.pre : out.post;
    if (b.fixed() && a.pre.size() > bd.size()) {
      od.insert(od.begin(), a.pre.begin(), a.pre.begin() + static_cast<long>(a.pre.size() - bd.size()));
    }
    const size_t n = std::min(a.pre.size(), bd.size());
    for (size_t i = 0; i < n; ++i) {
      const size_t ai = a.pre.size() - 1 - i, oi = od.size() - 1 - i, bi = bd.size() - 1 - i;
      od[oi] = broadcast_dim(a.pre[ai], bd[bi], key + "#" + std::to_string(i));
    }
    return out;
  }

  const json* port_value(const PrimCall& c, const std::string& port) const {
    const auto it = c.ports.find(port);
    if (it == c.ports.end()) return nullptr;
    const Edge& e = edge(it->second);
    return e.value ? &*e.value : nullptr;
  }

  void rule_broadcast(size_t ci, const PrimCall& c) {
    std::vector<std::string> ins;
    for (const PortDef& p : c.def.ports)
      if (p.kind == PortKind::tensor_input) ins.push_back(p.name);
    if (ins.size() < 2) return;
    const EdgeId l = port(c, ins[0]), r = port(c, ins[1]), o = port(c, "output");
    auto& ls = shape[static_cast<size_t>(l)];
    auto& rs = shape[static_cast<size_t>(r)];
    const EdgeId unknown_e = ls ? r : l;
    const Edge& unknown_edge = edge(unknown_e);
    if (equal_partners && !!ls != !!rs && unknown_edge.producer < 0 && !unknown_edge.value) {
      const EdgeId known_e = ls ? l : r;
      constrain(unknown_e, *shape[static_cast<size_t>(known_e)],
                "the shape of its broadcasting partner '" + edge_label(known_e) + "' (assumed equal)");
      return;
    }
    if (l == r) {  // x op x: broadcasting a shape with itself gives that shape, both ways
      if (ls) return constrain(o, *ls, block(c, "output"));
      if (const auto& os = shape[static_cast<size_t>(o)]) constrain(l, *os, block(c, ins[0]));
      return;
    }
    if (!ls || !rs) return;
    std::optional<Sym> out;
    try {
      out = broadcast(*ls, *rs, "b" + std::to_string(ci));
    } catch (const Conflict& cf) {
      throw ShapeError(fmt::format("[shapes] {} and {} of {} cannot be broadcast: {} is {} (from {}) and {} is {} (from {})",
                                   ins[0], ins[1], call_name(c), edge_label(l),
                                   str(*ls), origin[static_cast<size_t>(l)], edge_label(r), str(*rs),
                                   origin[static_cast<size_t>(r)]) + ": " + cf.why);
    }
    if (out) constrain(o, *out, block(c, "output"));
  }

  void rule_transpose(const PrimCall& c) {
    const EdgeId in = port(c, "input"), out = port(c, "output");
    const json* axes = port_value(c, "axes");
    auto permute = [&](const Sym& s, bool inverse) -> std::optional<Sym> {
      const Sym n = norm(s);
      if (!n.fixed()) return std::nullopt;
      const size_t r = n.pre.size();
      std::vector<int64_t> perm(r);
      if (!axes || axes->is_null()) {
        for (size_t i = 0; i < r; ++i) perm[i] = static_cast<int64_t>(r - 1 - i);
      } else {
        if (!axes->is_array() || axes->size() != r) return std::nullopt;  // the builder reports it
        for (size_t i = 0; i < r; ++i) {
          int64_t a = (*axes)[i].get<int64_t>();
          if (a < 0) a += static_cast<int64_t>(r);
          if (a < 0 || a >= static_cast<int64_t>(r)) return std::nullopt;
          perm[i] = a;
        }
      }
      Sym o;
      o.pre.assign(r, -1);
      for (size_t i = 0; i < r; ++i) {
        if (inverse) o.pre[static_cast<size_t>(perm[i])] = n.pre[i];
        else o.pre[i] = n.pre[static_cast<size_t>(perm[i])];
      }
      return o;
    };
    if (const auto& s = shape[static_cast<size_t>(in)]) {
      if (const auto o = permute(*s, false)) return constrain(out, *o, block(c, "output"));
    }
    if (const auto& s = shape[static_cast<size_t>(out)]) {
      if (const auto i = permute(*s, true)) constrain(in, *i, block(c, "input"));
    }
  }

  // Batch dims of a matmul operand: all but the last two.
  std::optional<Sym> batch_of(const Sym& s) {
    Sym n = norm(s);
    std::vector<int>& tail = n.fixed() ? n.pre : n.post;
    if (tail.size() < 2) return std::nullopt;
    tail.resize(tail.size() - 2);
    return n;
  }

  void rule_matmul(size_t ci, const PrimCall& c) {
    const EdgeId l = port(c, "left"), r = port(c, "right"), o = port(c, "output");
    const auto& ls = shape[static_cast<size_t>(l)];
    const auto& rs = shape[static_cast<size_t>(r)];
    if (!ls || !rs) return;
    const auto lb = batch_of(*ls), rb = batch_of(*rs);
    if (!lb || !rb) return;
    std::optional<Sym> batch;
    try {
      batch = broadcast(*lb, *rb, "m" + std::to_string(ci));
    } catch (const Conflict& cf) {
      throw ShapeError(fmt::format("[shapes] batch dims of left {} and right {} of '{}' (MatrixMultiply) cannot be "
                                   "broadcast: {}", str(*ls), str(*rs), c.path, cf.why));
    }
    if (!batch) return;
    const Sym ln = norm(*ls), rn = norm(*rs);
    const std::vector<int>& lt = ln.fixed() ? ln.pre : ln.post;
    const std::vector<int>& rt = rn.fixed() ? rn.pre : rn.post;
    Sym out = *batch;
    std::vector<int>& ot = out.fixed() ? out.pre : out.post;
    ot.push_back(lt[lt.size() - 2]);
    ot.push_back(rt.back());
    constrain(o, out, block(c, "output"));
  }

  // A dim of known size made once per key, so that repeated passes change nothing.
  int sized_once(const std::string& key, int64_t value) {
    const auto it = fresh.find(key);
    if (it != fresh.end()) return it->second;
    const int id = new_dim(value, "");
    fresh.emplace(key, id);
    return id;
  }

  // Reductions: over all axes without keepdim the output is a scalar whatever the input; else,
  // once the input's rank is known, the reduced dims go (or become 1 with keepdim) and the others
  // carry over. Bad axes are left to the builder to report.
  void rule_reduce(size_t ci, const PrimCall& c) {
    const json* axis = port_value(c, "axis");
    const json* keep = port_value(c, "keepdim");
    if (!axis || !keep || !keep->is_boolean()) return;
    const EdgeId out = port(c, "output");
    if (axis->is_null() && !keep->get<bool>()) return constrain(out, Sym{}, block(c, "output"));
    const auto& in = shape[static_cast<size_t>(port(c, "input"))];
    if (!in) return;
    const Sym n = norm(*in);
    if (!n.fixed()) return;
    const auto r = static_cast<int64_t>(n.pre.size());
    std::vector<bool> reduced(static_cast<size_t>(r), axis->is_null());
    if (!axis->is_null()) {
      const json axes = axis->is_array() ? *axis : json::array({*axis});
      for (const json& a : axes) {
        if (!a.is_number_integer()) return;
        int64_t k = a.get<int64_t>();
        if (k < 0) k += r;
        if (k < 0 || k >= r) return;
        reduced[static_cast<size_t>(k)] = true;
      }
    }
    Sym o;
    for (int64_t i = 0; i < r; ++i) {
      if (!reduced[static_cast<size_t>(i)]) o.pre.push_back(n.pre[static_cast<size_t>(i)]);
      else if (keep->get<bool>()) o.pre.push_back(sized_once("r" + std::to_string(ci) + "#" + std::to_string(i), 1));
    }
    constrain(out, o, block(c, "output"));
  }

  // Flatten of an input of known rank, before all its dims are known: the dims outside
  // start_dim..end_dim carry over; the merged dim is their product when all are known, else a
  // dim of its own (made once per call). Bad dims are left to the builder to report.
  void rule_flatten(size_t ci, const PrimCall& c) {
    const auto& in = shape[static_cast<size_t>(port(c, "input"))];
    if (!in) return;
    const Sym n = norm(*in);
    const json* start_v = port_value(c, "start_dim");
    const json* end_v = port_value(c, "end_dim");
    if (!n.fixed() || !start_v || !end_v || !start_v->is_number_integer() || !end_v->is_number_integer()) return;
    const auto r = static_cast<int64_t>(n.pre.size());
    int64_t start = start_v->get<int64_t>(), end = end_v->get<int64_t>();
    if (start < 0) start += r;
    if (end < 0) end += r;
    if (r == 0 || start < 0 || end >= r || start > end) return;
    Sym out;
    std::optional<int64_t> product = 1;
    for (int64_t i = 0; i < r; ++i) {
      const int d = n.pre[static_cast<size_t>(i)];
      if (i < start || i > end) {
        out.pre.push_back(d);
        continue;
      }
      const auto& v = dims[static_cast<size_t>(find_dim(d))].value;
      product = product && v ? std::optional<int64_t>(*product * *v) : std::nullopt;
      if (i != end) continue;
      const std::string key = "f" + std::to_string(ci);
      const int merged = once(key, false);
      if (product && !fresh.count(key + "=")) {  // unify with the product once it is known
        fresh.emplace(key + "=", merged);
        try {
          unify_dim(merged, new_dim(product, ""), static_cast<size_t>(i));
        } catch (const Conflict& cf) {
          throw ShapeError(fmt::format("[shapes] output of {} flattens input {} to {}: {}", block(c, "input"),
                                       str(*in), *product, cf.why));
        }
      }
      out.pre.push_back(merged);
    }
    constrain(port(c, "output"), out, block(c, "output"));
  }

  // Runs the primitive's builder on placeholder inputs once every input shape is concrete and
  // some output is not: the op rules give the output shapes (or reject the input shapes).
  void rule_build(const PrimCall& c) {
    if (!c.def.build || c.def.build_lists) return;
    bool missing_output = false;
    for (const PortDef& p : c.def.ports)
      if (p.kind == PortKind::output && !concrete(port(c, p.name))) missing_output = true;
    if (!missing_output) return;
    Graph g;
    PortValues pv;
    std::vector<std::string> described;
    for (const PortDef& p : c.def.ports) {
      if (p.kind == PortKind::output) continue;
      const EdgeId e = port(c, p.name);
      const Edge& edge = this->edge(e);
      PortValue v;
      if (edge.value) v.scalar = *edge.value;
      if (p.kind == PortKind::tensor_list_input) {  // a list packed by ToList: its elements' shapes
        if (edge.producer < 0) return;
        const PrimCall& packer = call(static_cast<size_t>(edge.producer));
        for (const PortDef& q : packer.def.ports) {
          if (q.kind != PortKind::tensor_input) continue;
          const auto s = concrete(port(packer, q.name));
          if (!s) return;
          v.tensors.push_back(g.input(q.name, *s, DType::f64));
          described.push_back(fmt::format("{}[] {}", p.name, shape_str(*s)));
        }
      } else if (p.kind == PortKind::tensor_input) {
        if (edge.value && edge.producer < 0) {
          v.tensor = g.constant(io::tensor_from_json(*edge.value, DType::f64));
        } else {
          const auto s = concrete(e);
          if (!s) return;
          v.tensor = g.input(p.name, *s, DType::f64);
          described.push_back(fmt::format("{} {}", p.name, shape_str(*s)));
        }
      }
      pv[p.name] = std::move(v);
    }
    std::map<std::string, Var> outs;
    try {
      outs = c.def.build(g, pv);
    } catch (const ShapeError& err) {
      throw ShapeError(fmt::format("[shapes] '{}' ({}) rejects its input shapes ({}): {}", c.path, c.def.name,
                                   fmt::join(described, ", "), err.what()));
    } catch (const Error&) {
      return;  // needs values known only at run time
    }
    for (const auto& [port, var] : outs) {
      const auto it = c.ports.find(port);
      if (it != c.ports.end()) constrain(root(it->second), of_shape(var.shape()), block(c, port));
    }
  }

  // Runs the rule of call `ci` after listing it with what the rule reads; a call whose rule
  // changed something runs again in the next pass (as every call would in a sweep).
  void run(size_t ci) {
    const PrimCall& c = call(ci);
    const int id = static_cast<int>(ci);
    for (const auto& [name, e] : c.ports) depend_on_edge(id, root(e));
    for (const PortDef& p : c.def.ports) {  // rule_build reads the elements of a list packed by ToList
      if (p.kind != PortKind::tensor_list_input) continue;
      const Edge& list = edge(port(c, p.name));
      if (list.producer < 0) continue;
      const PrimCall& packer = call(static_cast<size_t>(list.producer));
      for (const PortDef& q : packer.def.ports)
        if (q.kind == PortKind::tensor_input) {
          const EdgeId pe = port(packer, q.name);
          users[static_cast<size_t>(pe)].push_back(id);
          depend_on_edge(id, pe);
        }
    }
    const size_t before = version;
    switch (c.def.shape_rule) {
      case PrimitiveDef::ShapeRule::broadcast: rule_broadcast(ci, c); break;
      case PrimitiveDef::ShapeRule::transpose: rule_transpose(c); break;
      case PrimitiveDef::ShapeRule::matmul: rule_matmul(ci, c); break;
      case PrimitiveDef::ShapeRule::flatten: rule_flatten(ci, c); break;
      case PrimitiveDef::ShapeRule::reduce: rule_reduce(ci, c); break;
      case PrimitiveDef::ShapeRule::none: break;
    }
    rule_build(c);
    if (version != before) wake(id);
  }

  // Sizes the per-edge and per-call tables after edges or calls were added.
  void grow() {
    shape.resize(edges->size());
    origin.resize(edges->size());
    users.resize(edges->size());
    in_now.resize(num_calls(), 0);
    in_next.resize(num_calls(), 0);
  }

  // Runs the woken rules, pass after pass, until none is woken (at most as many passes as a
  // sweep over all calls would take to settle).
  void propagate() {
    struct Reset {
      int& cursor;
      ~Reset() { cursor = INT32_MAX; }
    } reset{cursor};
    const size_t limit = 4 * num_calls() + 8;
    for (size_t pass = 0; pass < limit && !next.empty(); ++pass) {
      now_heap.swap(next);
      next.clear();
      for (int c : now_heap) {
        in_next[static_cast<size_t>(c)] = 0;
        in_now[static_cast<size_t>(c)] = 1;
      }
      std::make_heap(now_heap.begin(), now_heap.end(), std::greater<>());
      cursor = -1;
      while (!now_heap.empty()) {
        std::pop_heap(now_heap.begin(), now_heap.end(), std::greater<>());
        const int c = now_heap.back();
        now_heap.pop_back();
        in_now[static_cast<size_t>(c)] = 0;
        cursor = c;
        run(static_cast<size_t>(c));
      }
      cursor = INT32_MAX;
    }
  }
};

SymbolicShapes::SymbolicShapes(const FlatModel& flat) : impl_(std::make_shared<Impl>()) {
  Impl& m = *impl_;
  m.flat = &flat;
  m.edges = &flat.edges;
  m.calls = &flat.calls;
  m.grow();
  for (size_t ci = 0; ci < flat.calls.size(); ++ci) {
    for (const auto& [port, e] : flat.calls[ci].ports) m.users[static_cast<size_t>(e)].push_back(static_cast<int>(ci));
    m.wake(static_cast<int>(ci));  // the first pass runs every rule
  }
  std::map<std::string, int> symbols;
  for (size_t i = 0; i < flat.edges.size(); ++i) {
    const Edge& e = flat.edges[i];
    for (const AssignedShape& a : e.shapes)
      m.constrain(static_cast<EdgeId>(i), m.instantiate(a.shape, a.scope, symbols), a.origin);
    if (e.value && e.producer < 0 && e.kind != PortKind::scalar_input && e.kind != PortKind::tensor_list_input) {
      std::optional<Shape> value_shape;
      try {
        value_shape = io::tensor_from_json(*e.value, DType::f64).shape();
      } catch (const Error&) {
      }
      if (value_shape) m.constrain(static_cast<EdgeId>(i), m.of_shape(*value_shape), "its value");
    }
  }
  for (size_t ci = 0; ci < flat.calls.size(); ++ci) {
    const PrimCall& c = flat.calls[ci];
    const std::string scope = "call" + std::to_string(ci);
    for (const auto& [port, tmpl] : c.def.shapes) {
      const auto it = c.ports.find(port);
      if (it == c.ports.end()) continue;
      m.constrain(it->second, m.instantiate(tmpl, scope, symbols), Impl::block(c, port));
    }
  }
  m.propagate();
}

void SymbolicShapes::constrain(EdgeId e, const json& shape_template, const std::string& origin,
                               const std::string& scope) {
  std::map<std::string, int> symbols;
  impl_->constrain(e, impl_->instantiate(shape_template, scope.empty() ? origin : scope, symbols), origin);
  impl_->propagate();
}

void SymbolicShapes::constrain(EdgeId e, const Shape& shape, const std::string& origin) {
  impl_->constrain(e, impl_->of_shape(shape), origin);
  impl_->propagate();
}

std::optional<Shape> SymbolicShapes::concrete(EdgeId e) const { return impl_->concrete(e); }

std::string SymbolicShapes::str(EdgeId e) const {
  const auto& s = impl_->shape[static_cast<size_t>(e)];
  return s ? impl_->str(*s) : "?";
}

std::optional<std::vector<SymbolicShapes::DimInfo>> SymbolicShapes::dims(EdgeId e) const {
  const auto& s = impl_->shape[static_cast<size_t>(e)];
  if (!s) return std::nullopt;
  const Sym n = impl_->norm(*s);
  if (!n.fixed()) return std::nullopt;
  std::vector<DimInfo> out;
  for (int d : n.pre) out.push_back({impl_->dims[static_cast<size_t>(d)].value, d});
  return out;
}

bool SymbolicShapes::pin_free_dim(EdgeId e, int64_t value) {
  if (!impl_->pin_free_dim(e, value)) return false;
  impl_->propagate();
  return true;
}

void SymbolicShapes::assume_equal_broadcast_partners() {
  impl_->equal_partners = true;
  for (size_t ci = 0; ci < impl_->num_calls(); ++ci) impl_->wake(static_cast<int>(ci));
  impl_->propagate();
}

std::map<std::string, Shape> infer_missing_shapes(const FlatModel& flat, const std::map<std::string, Shape>& known,
                                                  const std::function<int64_t()>& free_dim) {
  SymbolicShapes shapes(flat);
  for (const auto& [key, shape] : known) {
    const auto e = flat.find(key);
    MI_CHECK(e.has_value(), KeyError, "[shapes] '{}' is not a key of the model", key);
    shapes.constrain(*e, shape, "the given shape of '" + key + "'");
  }
  shapes.assume_equal_broadcast_partners();
  if (free_dim)
    for (const auto& [key, e] : flat.keys)
      while (flat.is_input(e) && !shapes.concrete(e) && shapes.pin_free_dim(e, free_dim())) {
      }
  std::map<std::string, Shape> out;
  for (const auto& [key, e] : flat.keys)
    if (!known.count(key))
      if (const auto s = shapes.concrete(e)) out.emplace(key, *s);
  return out;
}

// Model::add's incremental check: the submodels added so far, flattened one by one, and the
// symbolic shapes of their edges (indexed by edge id; an edge's shape lives on its root). Each
// add flattens the new submodel, moves the shapes and readers of merged edges to their root,
// adds the new facts (values, assigned shapes, the new calls' templates) and runs the rules
// they wake: the work is that of the new submodel and of what its facts reach.
class ShapeCheckState {
 public:
  ShapeCheckState() {
    shapes.edges = &flattening.edges();
    shapes.calls = &flattening.calls();
    shapes.parent = &flattening.parent();
  }

  size_t submodels = 0;  // how many of the model's submodels are in

  void add(const Submodel& sub, const std::string& model_name) {
    flattening.add(sub, model_name);
    absorb();
    ++submodels;
  }

 private:
  using Impl = SymbolicShapes::Impl;
  // What the rules of a call read of an edge besides its shape.
  struct View {
    std::optional<json> value;
    int producer = -1;
    bool value_constrained = false;  // the value's shape was given to the edge's shape
    bool operator==(const View& o) const { return value == o.value && producer == o.producer; }
  };

  View view_of(EdgeId r) const {
    const Edge& e = flattening.edges()[static_cast<size_t>(r)];
    return {e.value, e.producer, false};
  }

  // Moves the shape and readers of `x`, merged into another edge, to its root.
  void merge_into_root(EdgeId x) {
    Impl& m = shapes;
    const EdgeId r = m.root(x);
    const auto xi = static_cast<size_t>(x), ri = static_cast<size_t>(r);
    std::optional<Sym>& sx = m.shape[xi];
    std::optional<Sym>& sr = m.shape[ri];
    if (sx && !sr) {
      sr = std::move(sx);
      m.origin[ri] = m.origin[xi];
      m.wake_all(m.users[ri]);
    } else if (sx) {
      // Both had shapes: keep the one more calls read, wake the readers of the other.
      if (m.users[xi].size() > m.users[ri].size()) {
        std::swap(sr, sx);
        m.wake_all(m.users[ri]);
      } else {
        m.wake_all(m.users[xi]);
      }
      try {
        m.unify(*sr, *sx);
      } catch (const Conflict& c) {
        throw ShapeError(c.why);
      }
    } else if (sr) {
      m.wake_all(m.users[xi]);
    }
    sx.reset();
    if (!(views[xi] == view_of(r))) m.wake_all(m.users[xi]);
    Impl::merge_lists(m.users[ri], m.users[xi]);
  }

  // Wakes the readers of root `r` if its value or producer changed, and gives a new value's
  // shape to the edge (as SymbolicShapes' constructor does for every valued input edge).
  void refresh(EdgeId r) {
    Impl& m = shapes;
    const auto ri = static_cast<size_t>(r);
    View now = view_of(r);
    if (views[ri] == now) now.value_constrained = views[ri].value_constrained;
    else m.wake_all(m.users[ri]);
    const Edge& e = flattening.edges()[ri];
    if (!now.value_constrained && e.value && e.producer < 0 && e.kind != PortKind::scalar_input &&
        e.kind != PortKind::tensor_list_input) {
      now.value_constrained = true;
      std::optional<Shape> value_shape;
      try {
        value_shape = io::tensor_from_json(*e.value, DType::f64).shape();
      } catch (const Error&) {
      }
      if (value_shape) m.constrain(r, m.of_shape(*value_shape), "its value");
    }
    views[ri] = std::move(now);
  }

  void absorb() {
    Impl& m = shapes;
    const auto& edges = flattening.edges();
    m.grow();
    for (size_t i = views.size(); i < edges.size(); ++i) views.push_back(view_of(static_cast<EdgeId>(i)));
    std::vector<EdgeId> touched = flattening.take_touched();
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (EdgeId x : touched)
      if (m.root(x) != x) merge_into_root(x);
    std::vector<EdgeId> roots;
    for (EdgeId x : touched) roots.push_back(m.root(x));
    std::sort(roots.begin(), roots.end());
    roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
    for (EdgeId r : roots) refresh(r);
    std::map<std::string, int> symbols;  // a scope's symbols are shared within one submodel's facts
    for (const auto& [e, a] : flattening.take_assigned_shapes())
      m.constrain(m.root(e), m.instantiate(a.shape, a.scope, symbols), a.origin);
    const auto& calls = flattening.calls();
    for (size_t ci = first_new_call; ci < calls.size(); ++ci) {
      const PrimCall& c = calls[ci];
      for (const auto& [port, e] : c.ports) m.users[static_cast<size_t>(m.root(e))].push_back(static_cast<int>(ci));
      const std::string scope = "call" + std::to_string(ci);
      for (const auto& [port, tmpl] : c.def.shapes) {
        const auto it = c.ports.find(port);
        if (it == c.ports.end()) continue;
        m.constrain(m.root(it->second), m.instantiate(tmpl, scope, symbols), Impl::block(c, port));
      }
      m.wake(static_cast<int>(ci));
    }
    first_new_call = calls.size();
    m.propagate();
  }

  IncrementalFlattening flattening;
  Impl shapes;
  std::vector<View> views;  // per edge: what its readers saw when they were last woken
  size_t first_new_call = 0;
};

void check_added_submodel(const Model& model, std::shared_ptr<ShapeCheckState>& state) {
  const ModelImpl& m = *model.impl();
  const size_t n = m.submodels.size();
  if (m.shape_sets.empty() && n > 0) {
    try {
      if (!state || state.use_count() > 1 || state->submodels + 1 != n) {
        state = std::make_shared<ShapeCheckState>();
        for (size_t i = 0; i + 1 < n; ++i) state->add(m.submodels[i], m.name);
      }
      state->add(m.submodels.back(), m.name);
      return;
    } catch (...) {
      // A conflict or a structural problem: the full check reports it as it always has (or
      // accepts the model: it skips models that do not flatten, and stops after as many passes
      // as a sweep would take).
    }
  }
  state.reset();
  check_model_shapes(model);
}

void check_model_shapes(const Model& model) {
  FlatModel flat;
  try {
    flat = flatten(model);
  } catch (const Error&) {
    return;  // structural errors are reported when the model is compiled
  }
  SymbolicShapes{flat};
}

}  // namespace mithril::logical
