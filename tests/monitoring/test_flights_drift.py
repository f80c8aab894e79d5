from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftline.core import FeatureSchema, load_dataset, load_settings
from driftline.core.settings import DEFAULT_CONFIG
from monitoring import DriftResult, compare
from monitoring.multivariate import domain_drift

WEATHER = {"temp", "dewp", "humid"}
STABLE = {"distance", "carrier", "origin"}


@pytest.fixture(scope="module")
def flights() -> tuple[pd.DataFrame, pd.DataFrame, FeatureSchema]:
    settings = load_settings(DEFAULT_CONFIG)
    data = load_dataset(settings.data)
    listed = settings.data.features
    assert listed is not None
    schema = FeatureSchema(tuple(listed.numeric), tuple(listed.categorical), "late", "classification", (0, 1))
    return data.train, data.live, schema


@pytest.fixture(scope="module")
def summer(flights: tuple[pd.DataFrame, pd.DataFrame, FeatureSchema]) -> DriftResult:
    """July against January-February."""
    train, live, schema = flights
    july = live[live["time_hour"].dt.month == 7]
    return compare(schema.coerce(train), schema.coerce(july), schema, drift_share=0.3)


@pytest.fixture(scope="module")
def winter_halves(flights: tuple[pd.DataFrame, pd.DataFrame, FeatureSchema]) -> DriftResult:
    """A random half of January-February against the other half."""
    train, _, schema = flights
    shuffled = train.sample(frac=1.0, random_state=np.random.default_rng(0).integers(1 << 31))
    half = len(shuffled) // 2
    return compare(schema.coerce(shuffled.iloc[:half]), schema.coerce(shuffled.iloc[half:]), schema, drift_share=0.3)


def test_summer_flights_drift_in_the_weather_not_in_the_routes(summer: DriftResult) -> None:
    """July against January-February: temperature and humidity drift; distance, carrier and origin do not."""
    drifted = set(summer.drifted_features)
    assert WEATHER <= drifted and not (STABLE & drifted)
    assert summer.dataset_drift


def test_held_out_winter_flights_do_not_drift(winter_halves: DriftResult) -> None:
    """A random half of January-February against the other half: no dataset drift."""
    assert [] == winter_halves.drifted_features and not winter_halves.dataset_drift


def test_the_domain_classifier_tells_summer_flights_from_winter_ones(summer: DriftResult) -> None:
    """July rows against January-February rows: the domain classifier separates them, AUC above 0.65."""
    found = domain_drift(summer.compared, threshold=0.65, rows=2000, seed=0)
    assert found is not None
    assert True is found.drifted


def test_the_domain_classifier_cannot_tell_two_halves_of_winter_apart(winter_halves: DriftResult) -> None:
    """A random half of January-February against the other half: AUC about 0.5, no multivariate drift."""
    found = domain_drift(winter_halves.compared, threshold=0.65, rows=2000, seed=0)
    assert found is not None
    assert False is found.drifted
