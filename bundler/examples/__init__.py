"""Example training jobs: Spark pipelines on the Palmer penguins, exported as MLeap bundles.

Each example module has ``train(spark) -> (PipelineModel, sample DataFrame)`` and
``write(out_dir)``, which saves under ``out_dir/<name>/``:

* ``spark-model/``         the fitted PipelineModel (``model.save``)
* ``sample.parquet``       the rows it was trained on (input columns), for export and checks
* ``bundle-json.zip``      the MLeap bundle, JSON format
* ``bundle-protobuf.zip``  the MLeap bundle, protobuf format

``python -m leapserve.bundler.examples --out build/examples`` runs them all.
"""

from . import penguins_mass, penguins_species

EXAMPLES = {m.NAME: m for m in (penguins_species, penguins_mass)}
