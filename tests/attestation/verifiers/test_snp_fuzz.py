"""Property tests of the SEV-SNP parser and verifier over every real vector (Milan, Genoa, Turin;
versions 2, 3, 5; VCEK and VLEK): random and mutated reports and chains raise only typed
``EnclavaError``s, and a mutated report is never accepted unless its signed bytes are the
original's.
"""

from __future__ import annotations

from ca_support import BYTE_EDITS, FUZZ, SNP_VECTORS, byte_edits
from hypothesis import given
from hypothesis import strategies as st

from enclava.attestation.sev_snp_report import SNP_REPORT_LEN, SNP_SIGNED_LEN, SnpReport
from enclava.attestation.verifiers import SevSnpVerifier
from enclava.errors import EnclavaError

VERIFIER = SevSnpVerifier()
vectors = st.sampled_from(SNP_VECTORS)


def edited(data: bytes, *, keep_length: bool) -> st.SearchStrategy[bytes]:
    """``data`` after 1-4 random edits: bit flips and byte sets (and, unless ``keep_length``,
    deletions, insertions and truncation)."""
    return byte_edits(data, ("flip", "set") if keep_length else BYTE_EDITS)


def _verify_or_typed(report: bytes, chain: bytes, now: int):
    try:
        return VERIFIER.verify_report(report, chain, now=now)
    except EnclavaError:
        return None


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=2 * SNP_REPORT_LEN),
        st.binary(min_size=SNP_REPORT_LEN, max_size=SNP_REPORT_LEN),
    )
)
def test_parser_on_random_bytes_raises_only_typed_errors(data):
    try:
        SnpReport.parse(data)
    except EnclavaError:
        pass


@FUZZ
@given(st.data())
def test_parser_on_mutated_real_reports_raises_only_typed_errors(data):
    vector = data.draw(vectors)
    mutated = data.draw(edited(vector.report, keep_length=data.draw(st.booleans())))
    try:
        report = SnpReport.parse(mutated)
    except EnclavaError:
        return
    assert report.raw == mutated and 2 <= report.version <= 5


@FUZZ
@given(st.data())
def test_mutated_report_is_never_accepted(data):
    vector = data.draw(vectors)
    mutated = data.draw(edited(vector.report, keep_length=data.draw(st.booleans())))
    claims = _verify_or_typed(mutated, vector.chain, vector.now)
    if claims is not None:  # only an edit that left the signed bytes (and the signature) intact
        assert mutated[:SNP_SIGNED_LEN] == vector.report[:SNP_SIGNED_LEN]
        assert mutated == vector.report


@FUZZ
@given(st.data())
def test_mutated_chain_raises_only_typed_errors(data):
    vector = data.draw(vectors)
    chain = data.draw(edited(vector.chain, keep_length=data.draw(st.booleans())))
    _verify_or_typed(vector.report, chain, vector.now)


@FUZZ
@given(st.data())
def test_mixed_vectors_and_random_instants_raise_only_typed_errors(data):
    report, chain = data.draw(vectors), data.draw(vectors)
    now = data.draw(st.one_of(st.integers(-(2**70), 2**70), st.just(chain.now)))
    claims = _verify_or_typed(report.report, chain.chain, now)
    if claims is not None:
        assert report.report_file == chain.report_file or report.leaf_file == chain.leaf_file
