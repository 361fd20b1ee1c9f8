// Models of 10,000 blocks composed one by one with +=: composing, compiling and evaluating
// them gives the right numbers, and the shape check made at every add still catches a
// conflict across the whole chain (composition is linear in the number of blocks).
#include <gtest/gtest.h>

#include "mithril/core/error.h"
#include "mithril/logical/model.h"
#include "mithril/runtime/compile.h"

namespace mithril {
namespace {

using logical::Connection;
using logical::IOKey;
using logical::json;
using logical::Model;
using logical::prim;

constexpr int kBlocks = 10000;

Tensor input_2x3() { return Tensor::from_doubles({-1.5, 2.0, 0.0, 3.25, -4.0, 0.5}, {2, 3}, DType::f64); }

TEST(LongChain, TenThousandRelus) {
  Model m;
  m += prim("Relu").connect({{"input", "x"}});  // runtime inputs are named (safe_names)
  for (int i = 1; i < kBlocks; ++i) m += prim("Relu");
  const PhysicalModel pm = compile(m);
  EXPECT_EQ(pm.flat_model().calls.size(), static_cast<size_t>(kBlocks));
  ASSERT_EQ(pm.input_keys().size(), 1u);
  ASSERT_EQ(pm.output_keys().size(), 1u);
  const DataMap out = pm.evaluate({{pm.input_keys()[0], input_2x3()}});
  EXPECT_EQ(out.at(pm.output_keys()[0]).tensor.to_doubles(), (std::vector<double>{0.0, 2.0, 0.0, 3.25, 0.0, 0.5}));
}

TEST(LongChain, ReluAddPairsCountEveryBlock) {
  // (Relu, Add 1) five thousand times: relu(x) + 5000, so every block has to be wired in order.
  Model m;
  for (int i = 0; i < kBlocks / 2; ++i) {
    if (i == 0) m += prim("Relu").connect({{"input", "x"}});  // runtime inputs are named (safe_names)
    else m += prim("Relu");
    m += prim("Add").connect({{"right", Connection::tensor(1.0)}});
  }
  const PhysicalModel pm = compile(m);
  EXPECT_EQ(pm.flat_model().calls.size(), static_cast<size_t>(kBlocks));
  const DataMap out = pm.evaluate({{pm.input_keys()[0], input_2x3()}});
  EXPECT_EQ(out.at(pm.output_keys()[0]).tensor.to_doubles(),
            (std::vector<double>{5000.0, 5002.0, 5000.0, 5003.25, 5000.0, 5000.5}));
}

TEST(LongChain, ShapeConflictAcrossTheChainIsCaughtAtTheAdd) {
  IOKey in;
  in.name = "input";
  in.shape = json::array({2, 3});
  Model m;
  m += prim("Relu").connect({{"input", Connection(in)}});
  for (int i = 1; i < kBlocks; ++i) m += prim("Relu");
  IOKey out;
  out.name = "output";
  out.shape = json::array({4});
  EXPECT_THROW(m += prim("Relu").connect({{"output", Connection(out)}}), ShapeError);
  EXPECT_EQ(m.submodel_names().size(), static_cast<size_t>(kBlocks));  // the rejected block is not in
  out.shape = json::array({2, 3});
  m += prim("Relu").connect({{"output", Connection(out)}});
  const DataMap result = compile(m).evaluate({{"input", input_2x3()}});
  EXPECT_EQ(result.at("output").tensor.to_doubles(), (std::vector<double>{0.0, 2.0, 0.0, 3.25, 0.0, 0.5}));
}

}  // namespace
}  // namespace mithril
