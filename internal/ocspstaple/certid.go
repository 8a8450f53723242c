package ocspstaple

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"

	"golang.org/x/crypto/ocsp"
)

// The parts of an OCSP response (RFC 6960 §4.2.1) that crypto/ocsp parses
// but does not return: each entry's CertID. encoding/asn1 ignores the
// trailing elements of a SEQUENCE that these structures leave out.
type (
	responseASN1 struct {
		Status   asn1.Enumerated
		Response responseBytes `asn1:"explicit,tag:0,optional"`
	}
	responseBytes struct {
		ResponseType asn1.ObjectIdentifier
		Response     []byte
	}
	basicResponse struct {
		TBSResponseData responseData
	}
	responseData struct {
		Version        int `asn1:"optional,default:0,explicit,tag:0"`
		RawResponderID asn1.RawValue
		ProducedAt     asn1.RawValue
		Responses      []singleResponse
	}
	singleResponse struct {
		CertID certID
	}
	certID struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		NameHash      []byte
		IssuerKeyHash []byte
		SerialNumber  *big.Int
	}
)

// certIDs returns the CertID of every entry of a DER OCSP response; an
// unsuccessful response is an Unsuccessful *Error, anything unparsable a
// Malformed one.
func certIDs(der []byte) ([]certID, error) {
	var resp responseASN1
	rest, err := asn1.Unmarshal(der, &resp)
	if err != nil {
		return nil, fail(Malformed, "not an OCSP response: %w", err)
	}
	if len(rest) > 0 {
		return nil, fail(Malformed, "%d bytes after the OCSP response", len(rest))
	}
	if status := ocsp.ResponseStatus(resp.Status); status != ocsp.Success {
		return nil, fail(Unsuccessful, "%w", ocsp.ResponseError{Status: status})
	}
	var basic basicResponse
	if _, err := asn1.Unmarshal(resp.Response.Response, &basic); err != nil {
		return nil, fail(Malformed, "basic response: %w", err)
	}
	out := make([]certID, len(basic.TBSResponseData.Responses))
	for i, r := range basic.TBSResponseData.Responses {
		out[i] = r.CertID
	}
	if len(out) == 0 {
		return nil, fail(Malformed, "no certificate status in the response")
	}
	return out, nil
}

// forSerial returns the first entry for serial, the one crypto/ocsp's
// ParseResponseForCert reads the status of.
func forSerial(ids []certID, serial *big.Int) (certID, error) {
	for _, id := range ids {
		if id.SerialNumber != nil && id.SerialNumber.Cmp(serial) == 0 {
			return id, nil
		}
	}
	return certID{}, fail(OtherCertificate, "no status for serial %x among %d", serial, len(ids))
}
