"""S3 errors: the error code, its HTTP status and the XML error document.

Codes and statuses are the Amazon S3 API reference's ("Error responses", List
of error codes); a handler raises ``S3Error`` anywhere and the middleware
turns it into ``<Error><Code/><Message/><Resource/><RequestId/>...</Error>``.
"""
from __future__ import annotations

from objstore.common.http import Response
from proxy.s3.xmlio import XML_CONTENT_TYPE, element, to_xml

# code -> (status, default message), as listed in the S3 API reference
ERRORS: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied"),
    "AuthorizationHeaderMalformed": (400, "The authorization header is malformed."),
    "AuthorizationQueryParametersError": (400, "Error parsing the X-Amz-Credential parameter."),
    "BadDigest": (400, "The Content-MD5 or checksum you specified did not match what we received."),
    "BadRequest": (400, "Bad Request"),
    "BucketAlreadyExists": (409, "The requested bucket name is not available. The bucket "
                                 "namespace is shared by all users of the system. Please select "
                                 "a different name and try again."),
    "BucketAlreadyOwnedByYou": (409, "Your previous request to create the named bucket "
                                     "succeeded and you already own it."),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty"),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed size"),
    "EntityTooSmall": (400, "Your proposed upload is smaller than the minimum allowed size"),
    "IncompleteBody": (400, "You did not provide the number of bytes specified by the "
                            "Content-Length HTTP header."),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "InvalidAccessKeyId": (403, "The AWS Access Key Id you provided does not exist in our "
                                "records."),
    "InvalidArgument": (400, "Invalid Argument"),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidDigest": (400, "The Content-MD5 you specified is not valid."),
    "InvalidLocationConstraint": (400, "The specified location constraint is not valid."),
    "InvalidPart": (400, "One or more of the specified parts could not be found. The part "
                         "might not have been uploaded, or the specified entity tag might not "
                         "have matched the part's entity tag."),
    "InvalidPartNumber": (416, "The requested partnumber is not satisfiable"),
    "InvalidPartOrder": (400, "The list of parts was not in ascending order. The parts list "
                              "must be specified in order by part number."),
    "InvalidRange": (416, "The requested range is not satisfiable"),
    "InvalidRequest": (400, "Invalid Request"),
    "InvalidStorageClass": (400, "The storage class you specified is not valid"),
    "InvalidTag": (400, "The tag provided was not a valid tag."),
    "InvalidURI": (400, "Couldn't parse the specified URI."),
    "KeyTooLongError": (400, "Your key is too long"),
    "MalformedACLError": (400, "The XML you provided was not well-formed or did not validate "
                               "against our published schema"),
    "MalformedPOSTRequest": (400, "The body of your POST request is not well-formed "
                                  "multipart/form-data."),
    "MalformedXML": (400, "The XML you provided was not well-formed or did not validate "
                          "against our published schema"),
    "MaxMessageLengthExceeded": (400, "Your request was too big."),
    "MetadataTooLarge": (400, "Your metadata headers exceed the maximum allowed metadata size."),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header."),
    "MissingRequestBodyError": (400, "Request Body is empty"),
    "MissingSecurityHeader": (400, "Your request is missing a required header."),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchCORSConfiguration": (404, "The CORS configuration does not exist"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchTagSet": (404, "The TagSet does not exist"),
    "NoSuchUpload": (404, "The specified multipart upload does not exist. The upload ID might "
                          "be invalid, or the multipart upload might have been aborted or "
                          "completed."),
    "NotImplemented": (501, "A header or query you provided implies functionality that is "
                            "not implemented."),
    "OperationAborted": (409, "A conflicting conditional operation is currently in progress "
                              "against this resource. Try again."),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold"),
    "RequestTimeTooSkewed": (403, "The difference between the request time and the current "
                                  "time is too large."),
    "RequestTimeout": (400, "Your socket connection to the server was not read from or "
                            "written to within the timeout period."),
    "ServiceUnavailable": (503, "Please reduce your request rate."),
    "SignatureDoesNotMatch": (403, "The request signature we calculated does not match the "
                                   "signature you provided. Check your key and signing method."),
    "XAmzContentSHA256Mismatch": (400, "The provided 'x-amz-content-sha256' header does not "
                                       "match what was computed."),
}


class S3Error(Exception):
    """Raise to answer with an S3 error; ``details`` become extra elements of the
    document (``BucketName``, ``Key``, ``StringToSign``...), ``headers`` extra headers."""

    def __init__(self, code: str, message: str | None = None, *,
                 headers: dict[str, str] | None = None, **details: object) -> None:
        status, default = ERRORS[code]
        super().__init__(code, message or default)
        self.code = code
        self.status = status
        self.message = message or default
        self.details = details
        self.headers = headers or {}

    def response(self, resource: str, request_id: str) -> Response:
        """The error document (HEAD requests get the status and headers only)."""
        children = [element("Code", self.code), element("Message", self.message)]
        children += [element(name, value) for name, value in self.details.items()
                     if value is not None]
        children += [element("Resource", resource), element("RequestId", request_id)]
        body = to_xml(element("Error", children))
        headers = {"content-type": XML_CONTENT_TYPE, **self.headers}
        return Response(self.status, headers, body)
