"""The paper's reported numbers (see ../shared/PAPER.md for their provenance).

These are the *paper's* values, printed beside ours in every table; nothing here is
ever computed or compared against to tune anything.
"""

# Table 1 (deterministic setting). PSNR of "VJ-VCR without decoder" used a decoder trained afterwards.
TABLE1 = {
    "vjvcr": dict(mmnist_speed_mse=0.04, psnr=19.5, clevrer_speed_mse=0.19, rankme=423.7),
    "vjvcr_dec": dict(mmnist_speed_mse=0.04, psnr=21.2, clevrer_speed_mse=0.19, rankme=359.8),
    "gen_vc": dict(mmnist_speed_mse=0.10, psnr=22.9, clevrer_speed_mse=0.22, rankme=427.4),
    "gen": dict(mmnist_speed_mse=0.15, psnr=22.8, clevrer_speed_mse=0.23, rankme=160.2),
}

# Table 2 (stochastic MovingMNIST): linear-probe accuracy (%) from the inferred latent z*.
TABLE2 = {
    "discrete": dict(switch_acc=79.7, digit_acc=11.4),
    "sparse80": dict(switch_acc=94.7, digit_acc=31.6),
    "sparse20": dict(switch_acc=99.5, digit_acc=57.6),
}

# Figure 2 (CATER actions, mAP %).
FIG2 = {"vjvcr": 67.4, "gen": 53.8, "random": 39.6}
