# Seed block "JAX Backend" JIT options: static_argnums/donate_argnums are JAX's; this build has no
# JAX backend; on this build's backends static_argnums is an error naming the nearest meaning here.
import pytest

import mithril as ml
from glue import backends_named, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        # JAX-specific JIT options
        backend = ml.JaxBackend(device="gpu")
        compiled_model = ml.compile(
            model=model,
            backend=backend,
            jit=True,
            jit_options={
                "static_argnums": (0, 1),  # Arguments that should be treated as static
                "donate_argnums": (0,),    # Arguments that can be overwritten (buffer reuse)
            }
        )
    assert backends_named(str(e.value))


def test_jit_options_are_rejected_with_the_reason():
    with pytest.raises(ValueError, match="'jit_options.static_argnums' is not supported: JAX's static arguments"):
        ml.compile(model=model, backend=ml.CpuBackend(), jit=True,
                   jit_options={"static_argnums": (0, 1), "donate_argnums": (0,)})
