"""Reference engine: train a tabular classifier on the pooled rows of one or several datasets.

``trainer`` runs inside the sandbox and locally (:func:`train_plain`); ``shares`` is what data
owners use to split scikit-learn's ``breast_cancer`` into shares. Nothing here imports ``enclava``.
"""
