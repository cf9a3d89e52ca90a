"""Interactive exploration of the latent variable: move sliders over z, watch the predicted future.

``predict_frames`` is the plain function behind the panel (unit-tested); ``latent_explorer``
wraps it in ipywidgets for JupyterLab. Creating the panel headlessly (papermill) only builds
widget objects: nothing blocks and nothing is written.
"""
from __future__ import annotations

import io

import numpy as np
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


def frames_png(frames: np.ndarray, *, scale: int = 3) -> bytes:
    """A strip of frames [T, H, W] in [0, 1] as PNG bytes."""
    from PIL import Image

    strip = np.concatenate([np.pad(f, ((0, 0), (0, 1)), constant_values=0.5) for f in frames], axis=1)
    img = Image.fromarray((np.clip(strip, 0, 1) * 255).astype(np.uint8)).resize(
        (strip.shape[1] * scale, strip.shape[0] * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def latent_explorer(model, clip_uint8: np.ndarray, z_star, *, num_input: int = 3, top: int = 6,
                    slider_range: float = 3.0):
    """An ipywidgets panel: the input frames, sliders over z, the predicted frames, a reset button.

    Discrete models get one slider over the heads; sparse models one slider for each of the
    ``top`` components of z* with the largest magnitude (the others stay at z*).
    """
    import ipywidgets as W

    z_star = np.asarray(z_star, dtype=np.float32)
    discrete = model.predictor.num_heads > 1
    inputs = W.Image(value=frames_png(np.asarray(clip_uint8[:num_input], np.float32) / 255), format="png")
    target = W.Image(value=frames_png(np.asarray(clip_uint8[num_input:], np.float32) / 255), format="png")
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
        shown.value = frames_png(predict_frames(model, clip_uint8, current_z()))

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
    panel = W.VBox([W.HTML("<b>input frames x</b>"), inputs, W.HTML("<b>target frames y</b>"), target,
                    W.HTML("<b>predicted frames for the chosen z</b>"), shown, W.HBox([W.VBox(sliders), button])])
    panel.predict_image, panel.sliders, panel.reset_button = shown, sliders, button
    return panel
