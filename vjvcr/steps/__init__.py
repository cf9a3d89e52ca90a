"""One module per notebook step; each holds the functions its notebook calls.

    data            00_data             pretrain   01_pretrain (Table-1 runs, MovingMNIST and CLEVRER)
    probing         02_probing          svd        03_svd (Fig. 4, RankMe)
    reconstructions 04_reconstructions  latent     05_latent (Table 2, Fig. 3, sliders)
    cater           06_cater_actions    clevrer    CLEVRER's Table-1 column (01, 02)
    sweep           the VC-weight sweep study      07_claim1_study (neither part of run_all)

``python -m vjvcr step STEP`` runs any of them without Jupyter. The runs a step trains are declared
in ``vjvcr.plans``; a step may import an earlier step (probing uses data's datasets), never a later one.
"""
