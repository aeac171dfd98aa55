//! The layer's own answers, when it cannot give the handler's: an empty HTTP error, or
//! for a gRPC call a trailers-only response with `grpc-status`.

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use session_core::Error;

use super::SessionBody;

/// The protocol a request speaks, as far as the layer's own answers care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protocol {
    /// Plain HTTP: an HTTP status says what went wrong.
    Http,
    /// gRPC over HTTP/2, or gRPC-Web, in binary or text framing: an HTTP 200 whose
    /// headers end the call with a `grpc-status` (a trailers-only response). The
    /// content type is the one the call's client understands.
    Grpc(&'static str),
}

impl Protocol {
    /// The protocol of a request: gRPC when it is a POST (every gRPC call is) whose
    /// content type is `application/grpc`, `application/grpc-web` or
    /// `application/grpc-web-text`, alone or with a `+format` or parameters after it.
    ///
    /// Anything else is HTTP: a `GET` claiming a gRPC content type must not turn an
    /// outage into an empty, cacheable 200.
    pub(super) fn of(method: &Method, headers: &HeaderMap) -> Self {
        let value = match headers.get(CONTENT_TYPE) {
            Some(value) if method == Method::POST => value,
            _ => return Self::Http,
        };
        let value = value.as_bytes();
        // Longest first: each is a prefix of the next one's name.
        [
            "application/grpc-web-text",
            "application/grpc-web",
            "application/grpc",
        ]
        .into_iter()
        .find(|kind| {
            value.len() >= kind.len()
                && value[..kind.len()].eq_ignore_ascii_case(kind.as_bytes())
                && matches!(value.get(kind.len()), None | Some(b'+' | b';'))
        })
        .map_or(Self::Http, Self::Grpc)
    }
}

/// Why the layer answers instead of the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// The storage did not answer: worth retrying.
    Unavailable,
    /// The session could not be saved for any other reason (too big for its cookie, a
    /// store refusing the write).
    NotSaved,
    /// A second session layer saw a session already in the request.
    AppliedTwice,
}

impl Failure {
    /// The failure a failed commit is.
    pub(super) fn of(error: &Error) -> Self {
        if error.is_unavailable() {
            Self::Unavailable
        } else {
            Self::NotSaved
        }
    }

    /// The HTTP status of this failure: [`Error::http_status`]'s (pinned by a test).
    pub(super) fn status(self) -> StatusCode {
        match self {
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotSaved | Self::AppliedTwice => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC status code, UNAVAILABLE (14) or INTERNAL (13): [`Error::grpc_code`]'s
    /// (pinned by a test), as static text for the header.
    fn grpc_status(self) -> &'static str {
        match self {
            Self::Unavailable => "14",
            Self::NotSaved | Self::AppliedTwice => "13",
        }
    }

    /// The `grpc-message`: what happened, in words that hold no ID, secret or data
    /// (the detail goes to the log). Printable ASCII, so it needs no percent-encoding.
    fn grpc_message(self) -> &'static str {
        match self {
            Self::Unavailable => "session storage is unavailable; retry later",
            Self::NotSaved => "the session could not be saved",
            Self::AppliedTwice => {
                "the session layer is applied twice; the server must apply it once"
            }
        }
    }

    /// The answer to a caller speaking `protocol`: no body, no detail for the client,
    /// and never stored by a cache. The handler's headers are gone with its response
    /// (a CORS layer must sit outside the session layer to reach this answer).
    pub(super) fn response<B>(self, protocol: Protocol) -> Response<SessionBody<B>> {
        let mut response = Response::new(SessionBody::empty());
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match protocol {
            Protocol::Http => *response.status_mut() = self.status(),
            Protocol::Grpc(content_type) => {
                let headers = response.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                headers.insert("grpc-status", HeaderValue::from_static(self.grpc_status()));
                headers.insert(
                    "grpc-message",
                    HeaderValue::from_static(self.grpc_message()),
                );
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protocol(content_type: &str) -> Protocol {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, content_type.parse().expect("valid"));
        Protocol::of(&Method::POST, &headers)
    }

    #[test]
    fn grpc_is_told_by_its_content_types_alone() {
        let grpc = Protocol::Grpc("application/grpc");
        let web = Protocol::Grpc("application/grpc-web");
        let text = Protocol::Grpc("application/grpc-web-text");
        for (content_type, expected) in [
            ("application/grpc", grpc),
            ("application/grpc+proto", grpc),
            ("Application/GRPC; charset=utf-8", grpc),
            ("application/grpc-web", web),
            ("application/grpc-web+json", web),
            ("application/grpc-web-text", text),
            ("application/grpc-web-text+proto", text),
            ("application/grpcx", Protocol::Http),
            ("application/grpc-webby", Protocol::Http),
            ("application/json", Protocol::Http),
            ("text/html", Protocol::Http),
            ("", Protocol::Http),
        ] {
            assert_eq!(protocol(content_type), expected, "{content_type}");
        }
        assert_eq!(
            Protocol::of(&Method::POST, &HeaderMap::new()),
            Protocol::Http
        );
        let mut grpc_get = HeaderMap::new();
        grpc_get.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        for method in [Method::GET, Method::HEAD, Method::PUT] {
            assert_eq!(Protocol::of(&method, &grpc_get), Protocol::Http, "{method}");
        }
    }

    #[test]
    fn a_grpc_failure_is_a_trailers_only_ok_with_a_status() {
        for (failure, code, says) in [
            (Failure::Unavailable, "14", "retry later"),
            (Failure::NotSaved, "13", "could not be saved"),
            (Failure::AppliedTwice, "13", "applied twice"),
        ] {
            let response = failure.response::<String>(Protocol::Grpc("application/grpc"));
            assert_eq!(response.status(), StatusCode::OK);
            let headers = response.headers();
            assert_eq!(headers[CONTENT_TYPE], "application/grpc");
            assert_eq!(headers["grpc-status"], code);
            let message = headers["grpc-message"].to_str().expect("ascii");
            assert!(message.contains(says), "{message}");
            assert!(message
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'%'));
            assert!(http_body::Body::is_end_stream(response.body()));
            assert_eq!(headers[CACHE_CONTROL], "no-store");

            let response = failure.response::<String>(Protocol::Http);
            assert_eq!(response.status(), failure.status());
            assert_eq!(response.headers().len(), 1);
            assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        }
        assert_eq!(
            Failure::Unavailable.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            Failure::NotSaved.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    /// One mapping from errors to statuses: the layer's answers agree with `Error`'s.
    #[test]
    fn failures_answer_what_the_error_says() {
        for error in [
            Error::storage("write a session", "connection refused"),
            Error::CookieTooLarge {
                size: 5000,
                limit: 4096,
            },
        ] {
            let failure = Failure::of(&error);
            assert_eq!(failure.status().as_u16(), error.http_status());
            assert_eq!(failure.grpc_status(), error.grpc_code().to_string());
        }
    }
}
