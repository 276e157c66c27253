"""The CPU model the report prints comes from /proc/cpuinfo's "model name"; busy cores from /proc/stat."""

import pytest

from benchmark.machine import busy_cores, cpu_model, cpu_times


def test_cpu_model_is_the_model_name_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: Acme\nmodel name\t: Acme Turbo 3000 @ 2.0GHz\nflags\t\t: fpu\n")
    assert cpu_model(cpuinfo) == "Acme Turbo 3000 @ 2.0GHz"


def test_without_a_model_line_or_file_the_cpu_is_unknown(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nHardware\t: BCM2835\n")
    assert cpu_model(cpuinfo) == "unknown CPU"
    assert cpu_model(tmp_path / "missing") == "unknown CPU"


def test_cpu_times_count_idle_and_iowait_as_idle_and_leave_guest_time_out(tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 5 50 800 20 3 2 0 40 0\ncpu0 50 2 25 400 10 1 1 0 20 0\nintr 12345\n")
    assert cpu_times(stat) == (160, 980)
    assert cpu_times(tmp_path / "missing") is None
    stat.write_text("intr 12345\n")
    assert cpu_times(stat) is None


def test_busy_cores_is_the_busy_share_of_the_ticks_times_the_cores():
    assert busy_cores((100, 1000), (400, 1400), cores=2) == pytest.approx(1.5)
    assert busy_cores(None, (400, 1400), cores=2) is None
    assert busy_cores((100, 1000), (100, 1000), cores=2) is None  # no tick went by
