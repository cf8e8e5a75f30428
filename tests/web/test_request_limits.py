"""Oversized bodies (issue 20): each app refuses a request larger than its ``max_request_*`` setting with 413,
before reading it, and the station's card import bounds the rows one request checks against the store."""
import io
import os
import stat

from library_kiosk.central import api as central
from library_kiosk.central.store.cards import MAX_IMPORT_ROWS
from provisioning import jobrunner
from tests.helpers import device_client
from tests.provisioning.helpers import StaffClient

MIB = 1024 * 1024


def test_the_central_store_refuses_a_body_over_its_limit_with_a_json_error(central_db, config, device_token):
    config["central"]["max_request_mib"] = 1.0
    api = device_client(central.create_app(config), device_token)
    answer = api.post("/api/v1/sync/ops", data=b"[" + b" " * (MIB + 1) + b"]", content_type="application/json")
    assert answer.status_code == 413 and answer.json["error"]["code"] == "request_entity_too_large"


def test_the_station_refuses_an_upload_over_its_limit(station, station_config):
    station_config["provisioning"]["max_request_mib"] = 1.0  # read when the app was made: a new app
    import provisioning

    admin = StaffClient(provisioning.create_app(station_config), "admin")
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="students.csv"\r\n\r\n'
            + b"x" * (MIB + 1) + b"\r\n--b--\r\n")  # raw bytes: the client's own multipart spools to a file
    answer = admin.client.post("/admin/jobs/feed", data=body, content_type="multipart/form-data; boundary=b")
    assert answer.status_code == 413
    assert not os.path.exists(os.path.join(station_config["data_dir"], "feed-uploads"))


def test_a_card_import_over_the_row_limit_is_refused_whole(manager):
    rows = "".join(f"P{n},2{n:013d},04{n:012X}\n" for n in range(MAX_IMPORT_ROWS + 1))
    answer = manager.post("/cards/import", {"data": "primary_id,barcode,card_serial_number\n" + rows})
    assert answer.status_code == 422
    assert f"import at most {MAX_IMPORT_ROWS:,} at a time" in answer.get_data(as_text=True)


def test_an_uploaded_feed_file_is_readable_by_the_station_only(station, station_config):
    admin = StaffClient(station, "admin")
    text = "primary_id,last_name,user_group,expiry_date\nS1,Ng,21,2027-09-30\n"
    answer = admin.post("/admin/jobs/feed", {"source": "STUDENT", "mode": "partial",
                                             "file": (io.BytesIO(text.encode()), "students.csv")},
                        headers={"HX-Request": "true"}, content_type="multipart/form-data")
    assert answer.status_code == 202, answer.get_data(as_text=True)  # the dry run is running
    jobrunner.wait_all(30)
    folder = os.path.join(station_config["data_dir"], "feed-uploads")
    [name] = os.listdir(folder)
    assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) == 0o600
