"""One module per notebook step; each holds the functions its notebook calls.

    common          the context of a run (profile, folders), run folders, training many runs
    video_clips     CLEVRER / CATER clips (real data or the twins), decoded and cached
    data            00_data             pretrain   01_pretrain (Table-1 runs)
    probing         02_probing          svd        03_svd (Fig. 4, RankMe)
    reconstructions 04_reconstructions  latent     05_latent (Table 2, Fig. 3, sliders)
    cater           06_cater_actions    clevrer    CLEVRER's Table-1 column (01, 02)
    sweep           the VC-weight sweep (not part of run_all)

``python -m vjvcr.experiments STEP`` runs any of them without Jupyter. ``common`` and
``video_clips`` import no step; a step may import ``common``, ``video_clips`` and earlier steps.
"""
