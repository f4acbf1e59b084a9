"""Reference engine: classify 8x8 digit images (scikit-learn ``digits``) with owner-supplied
weights.

``model`` is the code that runs inside the sandbox (and locally, through :func:`predict_plain`);
``weights`` is what the model owner runs to make the weights. Only ``model`` and ``main`` are
imported inside the sandbox, and they import nothing from ``enclava``.
"""
