"""Point-in-time snapshots, churn labels and the feature families, built with DuckDB.

`snapshots.build_snapshots` decides which (account_id, as_of) pairs exist and how they are
labelled; `build.build_features` turns them into the model matrix; `catalog` describes every
feature. Each family module (onboarding, usage, tickets, payments, sentiment, account) returns
a frame keyed by (account_id, as_of) whose windows all end strictly before as_of.
"""
