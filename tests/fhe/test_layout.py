import numpy as np
import pytest
import torch

from enclava.fhe import DiagonalLayout, conv_head


@pytest.mark.parametrize("rows", [128, 256])
def test_diagonal_schedule_equals_matrix_product(rows):
    rng = np.random.default_rng(rows)
    layout = DiagonalLayout(rows)
    m, x = rng.normal(size=(rows, 784)), rng.random(784)
    got = layout.apply_plain(layout.pack(x), layout.masks(m))
    assert np.allclose(got, m @ x, atol=1e-9)


def test_layout_steps_are_the_few_the_kernel_uses():
    assert DiagonalLayout(128).steps == [1, 2, 3, 4, 5, 6, 7, 8, 16, 24, 128, 256, 512, 1024, 2048]
    assert len(DiagonalLayout(256).steps) == 18


def test_conv_matrix_equals_torch_conv():
    rng = np.random.default_rng(1)
    k, b, x = rng.normal(size=(4, 1, 7, 7)), rng.normal(size=4), rng.random((3, 784))
    want = (
        torch.nn.functional.conv2d(
            torch.tensor(x).reshape(3, 1, 28, 28), torch.tensor(k), torch.tensor(b), stride=3
        )
        .reshape(3, -1)
        .numpy()
    )
    assert np.allclose(conv_head(k, b, 3).affine(x), want, atol=1e-9)
