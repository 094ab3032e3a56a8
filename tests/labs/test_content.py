"""Labs as content: loaded by sync_content with the same validation and atomicity as courses."""

import pytest

from academy.contentfiles import ContentError
from academy.courses.services import content_sync
from labs.models import Lab, LabStep
from tests.labs_tree import write_tiny_lab

pytestmark = pytest.mark.django_db


def test_lab_is_created_with_its_steps_and_a_second_sync_changes_nothing(tmp_path):
    write_tiny_lab(tmp_path)

    report = content_sync(root=tmp_path)

    assert report.created["labs"] == 1 and report.created["lab steps"] == 1
    lab = Lab.objects.get(key="tiny-lab")
    assert (lab.slug_en, lab.slug_es) == ("tiny-lab", "laboratorio-minimo")
    assert lab.topology[0]["image"] == "toolbox"
    step = LabStep.objects.get(lab=lab)
    assert "touch ~/done" in step.solve_script
    assert step.messages["missing"]["es"] == "El archivo ~/done no existe."
    assert "<code>touch ~/done</code>" in step.body_html_en
    assert not content_sync(root=tmp_path).changed


def _broken(tmp_path, old: str, new: str) -> ContentError:
    lab = write_tiny_lab(tmp_path)
    path = lab / "lab.yaml"
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(ContentError) as caught:
        content_sync(root=tmp_path)
    assert not Lab.objects.exists()
    return caught.value


def test_unknown_image_is_reported_with_its_line(tmp_path):
    error = _broken(tmp_path, "image: toolbox", "image: ubuntu")
    assert error.problems[0].line == 10
    assert "unknown image 'ubuntu'" in error.problems[0].message


def test_dangerous_capability_is_refused(tmp_path):
    error = _broken(tmp_path, "    pids: 64\n", "    pids: 64\n    capabilities: [SYS_ADMIN]\n")
    assert "capabilities not allowed in labs: ['SYS_ADMIN']" in error.problems[0].message


def test_limits_out_of_range_are_refused(tmp_path):
    error = _broken(tmp_path, "memory_mb: 128", "memory_mb: 99999")
    assert "'memory_mb' must be between" in error.problems[0].message


def test_unknown_lesson_reference_is_refused(tmp_path):
    error = _broken(tmp_path, "shell: toolbox", "lessons: [nope/nothing]\nshell: toolbox")
    assert "unknown lesson 'nope/nothing'" in error.problems[0].message


def test_missing_check_script_is_reported(tmp_path):
    lab = write_tiny_lab(tmp_path)
    (lab / "steps/make-a-file.check.sh").unlink()
    with pytest.raises(ContentError) as caught:
        content_sync(root=tmp_path)
    assert "make-a-file.check.sh does not exist" in caught.value.problems[0].message


def test_missing_spanish_step_is_reported_as_missing_translation(tmp_path):
    lab = write_tiny_lab(tmp_path)
    (lab / "steps/make-a-file.es.md").unlink()

    report = content_sync(root=tmp_path)

    assert any("has no es" in p.message for p in report.content.missing_translations)
    assert LabStep.objects.get().body_html_es == ""


def test_faults_true_is_read_and_defaults_to_false(tmp_path):
    from tests.labs_tree import write_faults_lab

    write_faults_lab(tmp_path)
    write_tiny_lab(tmp_path)

    content_sync(root=tmp_path)

    assert Lab.objects.get(key="faults-lab").faults_enabled is True
    assert Lab.objects.get(key="tiny-lab").faults_enabled is False


def test_faults_must_be_a_boolean(tmp_path):
    error = _broken(tmp_path, "shell: toolbox", "faults: sometimes\nshell: toolbox")
    assert "'faults' must be true or false" in error.problems[0].message


def test_a_lab_cannot_use_the_platforms_faults_image_or_name(tmp_path):
    error = _broken(tmp_path, "image: toolbox", "image: faults")
    assert "unknown image 'faults'" in error.problems[0].message


def test_a_container_named_faults_clashes_with_the_sidecar(tmp_path):
    error = _broken(tmp_path, "- name: toolbox", "- name: faults")
    assert error.problems  # shell: toolbox no longer names a container
    lab = tmp_path / "labs" / "tiny-lab" / "lab.yaml"
    lab.write_text(lab.read_text().replace("shell: toolbox", "shell: faults\nfaults: true"))
    with pytest.raises(ContentError) as caught:
        content_sync(root=tmp_path)
    assert any("adds a container named 'faults'" in p.message for p in caught.value.problems)


def test_a_step_without_messages_is_fine(tmp_path):
    lab = write_tiny_lab(tmp_path)
    path = lab / "lab.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("    messages:")])

    content_sync(root=tmp_path)

    assert LabStep.objects.get().messages == {}
