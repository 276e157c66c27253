"""The CPU model the report prints comes from /proc/cpuinfo's "model name"."""

from benchmark.machine import cpu_model


def test_cpu_model_is_the_model_name_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: Acme\nmodel name\t: Acme Turbo 3000 @ 2.0GHz\nflags\t\t: fpu\n")
    assert cpu_model(cpuinfo) == "Acme Turbo 3000 @ 2.0GHz"


def test_without_a_model_line_or_file_the_cpu_is_unknown(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nHardware\t: BCM2835\n")
    assert cpu_model(cpuinfo) == "unknown CPU"
    assert cpu_model(tmp_path / "missing") == "unknown CPU"
