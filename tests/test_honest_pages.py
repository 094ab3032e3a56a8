"""Until certifications exist, no page promises them: the home page says they are on their way
and that none is awarded yet; sign-up does not offer certificates."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("home", "signup", "honest", "certificates"),
    [
        ("/en/", "/en/accounts/sign-up/", "none is awarded yet", "certificate"),
        ("/es/", "/es/cuentas/registro/", "todavía no se otorga ninguna", "certificado"),
    ],
)
def test_no_page_promises_certificates_that_do_not_exist_yet(
    client, home, signup, honest, certificates
):
    assert honest in client.get(home).content.decode()
    page = client.get(signup)
    assert page.status_code == 200
    assert certificates not in page.content.decode().lower()
    assert client.get(home + "certificates/").status_code == 404
