import threading
import time

import pytest

from hipvision.core.jobs import Cancelled, CancelToken, EtaEstimator, check_cancel


def test_cancel_token_across_threads():
    token = CancelToken()
    seen = []

    def work():
        for i in range(1000):
            try:
                check_cancel(token)
            except Cancelled:
                seen.append(i)
                return
            time.sleep(0.001)

    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.02)
    token.set()
    t.join(5)
    assert seen and seen[0] < 1000
    with pytest.raises(Cancelled):
        token.raise_if_set()
    check_cancel(None)  # no token: never cancelled


def test_eta_from_rate(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("hipvision.core.jobs.time.monotonic", lambda: clock[0])
    eta = EtaEstimator()
    assert eta.update(0, 10) is None
    clock[0] += 2.0
    assert eta.update(2, 10) == pytest.approx(8.0)  # 1 item/s, 8 left
    clock[0] += 2.0
    assert eta.update(6, 10) == pytest.approx(4 / 1.5)  # 6 items in 4 s, 4 left


def test_labelled_progress_names_the_part_of_the_job():
    from hipvision.core.jobs import labelled

    seen = []
    say = labelled(lambda done, total, message: seen.append((done, total, message)))
    say("training resnet18")(3, 10, "epoch 3/10")
    assert seen == [(3, 10, "training resnet18: epoch 3/10")]
    labelled(None)("quiet")(1, 1, "nothing to tell")  # no progress callback: nothing happens, no error
