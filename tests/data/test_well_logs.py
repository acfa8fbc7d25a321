"""Well-log readers: LAS and CSV, units (sonic, velocity, density, feet), nulls, depth vs time, intervals."""
import numpy as np
import pytest

from ppsci_ext.data.ava import well_logs as wl

LAS = """~VERSION INFORMATION
 VERS.                  2.0 : CWLS LOG ASCII STANDARD - VERSION 2.0
 WRAP.                   NO : ONE LINE PER DEPTH STEP
~WELL INFORMATION
 STRT.FT          1000.0000 : START DEPTH
 STOP.FT          1001.5000 : STOP DEPTH
 STEP.FT             0.5000 : STEP
 NULL.            -999.2500 : NULL VALUE
 WELL.           TEST WELL 1 : WELL
~CURVE INFORMATION
 DEPT.FT                    : Depth
 GR  .GAPI                  : Gamma ray
 DT  .US/F                  : P sonic
 DTS .US/F                  : S sonic
 RHOB.G/C3                  : Bulk density
~A  DEPT  GR  DT  DTS  RHOB
 1000.0  80.0  100.0  200.0  2.30
 1000.5  82.0  101.6  -999.25  2.31
 1001.0  60.0  -999.25  190.0  2.20
 1001.5  55.0  95.0  180.0  2.25
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_las_units_and_nulls(tmp_path):
    log = wl.read_las(write(tmp_path, "w.las", LAS))
    assert log.name == "TEST WELL 1" and log.index_kind == "depth"
    np.testing.assert_allclose(log.index, np.array([1000.0, 1000.5, 1001.0, 1001.5]) * 0.3048)  # m
    e = wl.elastic_logs(log)
    assert e["vp"][0] == pytest.approx(3048.0)  # 100 us/ft = 0.3048 m / 100e-6 s
    assert e["vs"][0] == pytest.approx(1524.0)
    assert np.isnan(e["vs"][1]) and np.isnan(e["vp"][2])  # the file's NULL
    np.testing.assert_allclose(e["rho"], [2.30, 2.31, 2.20, 2.25])


def test_las_3_log_sections_and_comma_delimiter(tmp_path):
    text = ("~Version\n VERS. 3.0 : CWLS LOG ASCII STANDARD - VERSION 3.0\n WRAP. NO :\n DLM . COMMA :\n"
            "~Well\n NULL. -9999 : Missing value\n~Log_Definition\n DEPT.M : depth\n VP.M/S : p velocity\n"
            " VS.KM/S : s velocity\n DEN.KG/M3 : density\n~Log_Data | Log_Definition\n"
            "1500.0,2500.0,1.20,2250.0\n1500.1,2510.0,-9999,2260.0\n")
    e = wl.elastic_logs(wl.read_las(write(tmp_path, "w3.las", text)))
    np.testing.assert_allclose(e["index"], [1500.0, 1500.1])
    assert e["vs"][0] == pytest.approx(1200.0) and np.isnan(e["vs"][1])
    np.testing.assert_allclose(e["rho"], [2.25, 2.26])


def test_csv_with_units_in_the_header_and_a_units_row(tmp_path):
    a = wl.read_log_csv(write(tmp_path, "a.csv", "DEPTH (m),VP [km/s],VS [km/s],RHOB (g/cc)\n"
                                                  "100,2.5,1.2,2.2\n101,2.6,,2.25\n"))
    e = wl.elastic_logs(a)
    np.testing.assert_allclose(e["vp"], [2500.0, 2600.0])
    assert np.isnan(e["vs"][1])
    b = wl.read_log_csv(write(tmp_path, "b.csv", "TWT,DTCO,DTSM,RHOZ\nms,us/m,us/m,g/cm3\n1000,400,800,2.3\n"
                                                  "1002,410,820,2.31\n"))
    assert b.index_kind == "time"
    np.testing.assert_allclose(b.index, [1.0, 1.002])
    e = wl.elastic_logs(b)
    assert e["vp"][0] == pytest.approx(2500.0) and e["vs"][0] == pytest.approx(1250.0)


def test_missing_units_are_read_by_magnitude_with_a_warning(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(wl.logger, "warning", seen.append)  # the ppsci logger does not propagate to caplog
    log = wl.read_log_csv(write(tmp_path, "c.csv", "DEPTH (m),DT,DTS,RHOB\n100,100,200,2300\n101,101,202,2310\n"))
    e = wl.elastic_logs(log)
    assert e["rho"][0] == pytest.approx(2.3) and e["vp"][0] == pytest.approx(3048.0)
    text = " ".join(seen)
    assert "RHOB" in text and "kg/m3" in text and "us/ft" in text


def test_a_unit_that_does_not_fit_the_values_is_an_error(tmp_path):
    bad = LAS.replace("RHOB.G/C3", "RHOB.G/CC").replace(" 2.30\n", " 2300\n").replace(" 2.31\n", " 2310\n")
    bad = bad.replace(" 2.20\n", " 2200\n").replace(" 2.25\n", " 2250\n")
    path = write(tmp_path, "bad.las", bad)
    with pytest.raises(ValueError, match=r"bad\.las.*RHOB.*G/CC.*2\.27e\+03|bad\.las.*RHOB.*G/CC"):
        wl.elastic_logs(wl.read_las(path))
    with pytest.raises(ValueError, match=r"DT.*unit 'OHMM'"):
        wl.elastic_logs(wl.read_las(write(tmp_path, "u.las", LAS.replace(" DT  .US/F", " DT  .OHMM"))))


def test_missing_curves_and_bad_files_are_named(tmp_path):
    with pytest.raises(KeyError, match=r"no vs curve.*DTS"):
        wl.elastic_logs(wl.read_las(write(tmp_path, "novs.las", LAS.replace(" DTS .", " XXX ."))))
    with pytest.raises(ValueError, match="wrapped"):
        wl.read_las(write(tmp_path, "wrap.las", LAS.replace("WRAP.                   NO", "WRAP. YES")))
    with pytest.raises(ValueError, match="data line 2 of ~A has 4 values, expected 5"):
        wl.read_las(write(tmp_path, "short.las", LAS.replace("1000.5  82.0  101.6", "1000.5  101.6")))
    with pytest.raises(ValueError, match=r"h\.csv: expected a header of curve names and data rows, found 1"):
        wl.read_log_csv(write(tmp_path, "h.csv", "DEPTH (m),DT,DTS,RHOB\n"))
    with pytest.raises(ValueError, match=r"u\.csv: a header and a row of units, but no data rows"):
        wl.read_log_csv(write(tmp_path, "u.csv", "DEPTH,DT,DTS,RHOB\nm,us/ft,us/ft,g/cc\n"))
    with pytest.raises(FileNotFoundError, match="nope.las"):
        wl.read_las(str(tmp_path / "nope.las"))


def test_depth_to_two_way_time():
    # 500 m at 2000 m/s then 500 m at 2500 m/s: 0.5 s + 0.4 s of two-way time
    z = np.linspace(0.0, 1000.0, 10001)
    vp = np.where(z < 500.0, 2000.0, 2500.0)
    logs = {"index": z, "vp": vp, "vs": vp / 2, "rho": np.where(z < 500.0, 2.2, 2.4)}
    out = wl.to_time(logs, dt=0.004, kind="depth")
    assert out["t"][0] == pytest.approx(0.002, abs=1e-4) and out["t"][-1] == pytest.approx(0.898, abs=0.0041)  # complete bins only
    k = np.searchsorted(out["t"], 0.5)
    assert out["vp"][k - 2] == pytest.approx(2000.0) and out["vp"][k + 1] == pytest.approx(2500.0)
    # travel time is kept: sum of dt over the resampled slowness = the log's one-way time x 2
    np.testing.assert_allclose(len(out["t"]) * 0.004, 0.9, atol=0.004)
    timed = wl.to_time({"index": out["t"], **{p: out[p] for p in ("vp", "vs", "rho")}}, dt=0.008, kind="time")
    assert len(timed["t"]) == pytest.approx(len(out["t"]) / 2, abs=1)


def test_complete_interval_and_blocking():
    x = np.arange(20, dtype=float)
    vp = 2000 + 10 * x
    vp[[0, 1, 7, 15]] = np.nan  # leading nulls, a 1-sample gap (filled), then a gap of 1 is filled too
    vs = vp / 2
    vs[[12, 13, 14]] = np.nan  # a 3-sample gap
    logs = {"index": x, "vp": vp, "vs": vs, "rho": np.full(20, 2.3)}
    out = wl.complete_interval(logs, max_gap=1)
    np.testing.assert_allclose(out["index"], np.arange(2, 12))  # the longest run: gaps > 1 sample cut it
    assert out["vp"][5] == pytest.approx(2070.0)  # x = 7 filled by interpolation
    b = wl.blocked({"vp": np.array([2000.0, 4000.0, 3000.0]), "vs": np.ones(3), "rho": np.array([2.0, 2.4, 2.2])}, 2)
    np.testing.assert_allclose(b["vp"], [1 / (0.5 / 2000 + 0.5 / 4000)] * 2 + [3000.0])
    np.testing.assert_allclose(b["rho"], [2.2, 2.2, 2.2])


def test_the_stored_real_logs_read_as_their_readme_says():
    """bench/well_logs: LAS 2.0 from Petrel, DTC/DTS in us/ft, RHOB in g/cm3, NULL -999.25; the samples with all
    three present are those the folder's README counts."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "bench" / "well_logs"
    counts = {"16_2-6.las": 1677, "16_2-11_A.las": 3639, "16_2-16.las": 3223, "16_5-3.las": 3008}
    for name, n in counts.items():
        log = wl.read_las(str(folder / name))
        e = wl.elastic_logs(log)
        ok = np.isfinite(e["vp"]) & np.isfinite(e["vs"]) & np.isfinite(e["rho"])
        assert int(ok.sum()) == n, name
        assert log.units["DTC"] == "us/ft" and log.index_kind == "depth"
        assert 1500 < np.nanmin(e["vp"]) and np.nanmax(e["vp"]) < 7000
        assert (e["vs"][ok] < e["vp"][ok] / 1.4).all() and 1.5 < np.nanmin(e["rho"]) < np.nanmax(e["rho"]) < 3.0
