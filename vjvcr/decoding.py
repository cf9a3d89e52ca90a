"""Decoding predicted states back to frames: the post-hoc decoder and reconstructions.

"VJ-VCR without decoder" has no decoder while it learns; for its PSNR (Table 1's 19.5 row)
a decoder of the same architecture is fitted afterwards on its *frozen* predictions
Pred(Enc(x)) -> y, with the encoder and predictor in eval mode and no gradient reaching them.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .checkpoints import atomic_save, load_checkpoint
from .config import config_hash
from .device import pick_device
from .fileio import DamagedFileError
from .latent import infer
from .models import Decoder, clip_batches, to_float_frames
from .train import batch_indices


def fit_posthoc_decoder(model, frames: np.ndarray, *, steps: int, batch_size: int, lr: float, seed: int,
                        path: str | Path | None = None, run_hash: str = "", device=None,
                        progress: bool = False, latent=None) -> Decoder:
    """Fit a decoder on frozen predictions of ``model`` (cached at ``path`` when given).

    For a latent-variable model pass its RunConfig as ``latent``: the predictions are then
    made with the z* inferred for each training clip, as they are at test time.
    """
    dev = pick_device(device)
    key = config_hash(dict(run=run_hash, steps=steps, batch_size=batch_size, lr=lr, seed=seed))
    torch.manual_seed(seed)
    model = model.to(dev).eval()
    decoder = Decoder(model.model_config, size=frames.shape[-1]).to(dev)  # mirrors the run's encoder
    if path is not None and Path(path).exists():
        try:
            ck = load_checkpoint(path, map_location=dev)
        except DamagedFileError as err:  # a cache: fit it again
            warnings.warn(f"{err.args[0].split(';')[0]}; fitting the decoder again")
            ck = {}
        if ck.get("hash") == key:
            decoder.load_state_dict(ck["decoder"])
            return decoder.eval()
    opt = torch.optim.AdamW(decoder.parameters(), lr=lr)
    data = torch.as_tensor(frames).to(dev)
    decoder.train()
    for step in tqdm(range(steps), desc="post-hoc decoder", disable=not progress, leave=False):
        clip = to_float_frames(data[batch_indices(step, n=len(data), batch_size=batch_size, seed=seed).to(dev)])
        x, y = model.split(clip)
        if latent is not None and latent.options.latent != "none":
            z = infer(model, latent, clip, lam=latent.options.lam, steps=latent.options.fista_steps)
        else:
            z = None
        with torch.no_grad():
            pred = model.predictor(model.encoder(x), z)
        loss = F.mse_loss(decoder(pred), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    decoder.eval()
    if path is not None:
        atomic_save({"decoder": decoder.state_dict(), "hash": key, "steps": steps}, Path(path))
    return decoder


@torch.no_grad()
def reconstruct(model, frames: np.ndarray, *, decoder=None, batch_size: int = 128, device="cpu") -> np.ndarray:
    """Decoded predictions Dec(Pred(Enc(x))) for uint8 clips: float [N, T_y, H, W] in [0, 1]."""
    model = model.to(device).eval()
    decoder = (decoder or model.decoder)
    if decoder is None:
        raise ValueError("this model has no decoder: fit one with fit_posthoc_decoder first")
    decoder = decoder.to(device).eval()
    out = []
    for clip in clip_batches(frames, batch_size, device):
        x, _ = model.split(clip)
        out.append(decoder(model.predictor(model.encoder(x)))[:, :, 0].float().cpu().numpy())
    return np.concatenate(out)
