"""Interactive exploration of the latent variable: move sliders over z, watch the predicted future.

``predict_frames`` is the plain function behind the panel (unit-tested); ``latent_explorer``
wraps it in ipywidgets for JupyterLab. Creating the panel headlessly (papermill) only builds
widget objects: nothing blocks and nothing is written.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image
import torch

from .models import to_float_frames


@torch.no_grad()
def predict_frames(model, clip_uint8: np.ndarray, z) -> np.ndarray:
    """Decoded predicted target frames [T_y, H, W] in [0, 1] for one clip [T, H, W] and latent z.

    ``z`` is a head index (discrete model), a one-hot or continuous vector, or None (no latent).
    """
    model.eval()
    dev = next(model.parameters()).device
    clip = to_float_frames(torch.as_tensor(np.asarray(clip_uint8))[None].to(dev))
    x, _ = model.split(clip)
    pred_net = model.predictor
    zt = None
    if pred_net.num_heads > 1:
        if z is None:
            raise ValueError("a discrete-latent model needs z: a head index or a one-hot vector")
        zt = (torch.nn.functional.one_hot(torch.tensor([int(z)]), pred_net.num_heads).float()
              if np.ndim(z) == 0 else torch.as_tensor(np.asarray(z), dtype=torch.float32)[None])
    elif pred_net.latent_dim:
        zt = torch.as_tensor(np.zeros(pred_net.latent_dim) if z is None else np.asarray(z),
                             dtype=torch.float32)[None]
    if model.decoder is None:
        raise ValueError("the model has no decoder, so its predictions cannot be drawn")
    out = model.decoder(model.predictor(model.encoder(x), None if zt is None else zt.to(dev)))
    return out[0, :, 0].float().cpu().numpy()


def frame_grid(inputs: np.ndarray, targets: np.ndarray, predictions: np.ndarray, *, gap: int = 1,
               split: int = 3) -> np.ndarray:
    """The time-aligned grid [2 H + gap, T W + ...] in [0, 1]: inputs then targets on top, predictions under the targets.

    Every frame keeps its own pixel size; column k is time step k in both rows, and a wider
    gap (``split`` pixels) separates the input frames from the future ones.
    """
    h, w = inputs.shape[1:]
    blank = np.full((h, w), 0.5, np.float32)
    top = list(inputs) + list(targets)
    bottom = [blank] * len(inputs) + list(predictions)
    cols = []
    for k, (a, b) in enumerate(zip(top, bottom)):
        col = np.concatenate([a, np.full((gap, w), 0.5, np.float32), b], axis=0)
        pad = split if k == len(inputs) - 1 else gap
        cols.append(np.pad(col, ((0, 0), (0, pad)), constant_values=0.5))
    return np.concatenate(cols, axis=1)


def grid_png(grid: np.ndarray, *, width: int = 1000) -> bytes:
    """A grid in [0, 1] as PNG bytes, scaled by the largest whole factor that keeps it within ``width`` pixels."""
    scale = max(1, width // grid.shape[1])
    img = Image.fromarray((np.clip(grid, 0, 1) * 255).astype(np.uint8)).resize(
        (grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def latent_explorer(model, clip_uint8: np.ndarray, z_star, *, num_input: int = 3, top: int = 6,
                    slider_range: float = 3.0):
    """An ipywidgets panel: one grid of input, target and predicted frames, sliders over z, a reset button.

    Discrete models get one slider over the heads; sparse models one slider for each of the
    ``top`` components of z* with the largest magnitude (the others stay at z*).
    """
    import ipywidgets as W  # only where the panel is shown (absent on a lent GPU machine)

    z_star = np.asarray(z_star, dtype=np.float32)
    discrete = model.predictor.num_heads > 1
    frames = np.asarray(clip_uint8, np.float32) / 255
    inputs, targets = frames[:num_input], frames[num_input:]
    shown = W.Image(format="png")
    if discrete:
        sliders = [W.IntSlider(value=int(z_star.argmax()), min=0, max=model.predictor.num_heads - 1,
                               description="head z", continuous_update=True)]
        idx = []
    else:
        idx = list(np.argsort(-np.abs(z_star))[:top])
        sliders = [W.FloatSlider(value=float(z_star[i]), min=-slider_range, max=slider_range, step=0.05,
                                 description=f"z[{i}]", continuous_update=True) for i in idx]

    def current_z():
        if discrete:
            return sliders[0].value
        z = z_star.copy()
        for i, s in zip(idx, sliders):
            z[i] = s.value
        return z

    def redraw(*_):
        shown.value = grid_png(frame_grid(inputs, targets, predict_frames(model, clip_uint8, current_z())))

    def reset(*_):
        if discrete:
            sliders[0].value = int(z_star.argmax())
        else:
            for i, s in zip(idx, sliders):
                s.value = float(z_star[i])
        redraw()

    for s in sliders:
        s.observe(redraw, names="value")
    button = W.Button(description="reset to z*")
    button.on_click(reset)
    redraw()
    caption = W.HTML(f"<b>top:</b> the {num_input} input frames x, then the true future y; "
                     "<b>bottom:</b> the predicted future for the chosen z, under the frame it predicts")
    panel = W.VBox([caption, shown, W.HBox([W.VBox(sliders), button])])
    panel.predict_image, panel.sliders, panel.reset_button = shown, sliders, button
    return panel
