"""An oversized body at the kiosk (issue 20): refused with 413 before it is read (``[kiosk] max_request_kib``)."""


def test_the_kiosk_refuses_a_body_over_its_limit(kiosk):
    answer = kiosk.post("/identify", data={"identifier": "2" * (65 * 1024)})
    assert answer.status_code == 413
