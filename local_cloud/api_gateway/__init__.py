"""The template's REST API served on localhost, as API Gateway serves it, with its Cognito authorizer enforced.

Routes, integrations and authorizers come from the API definition SAM generates (the RestApi's
`Body`). Each request becomes the Lambda proxy (v1) event API Gateway would send, and the
function's answer becomes the HTTP response, including API Gateway's own refusals, all in its JSON shape:
403 for an unknown route or method, 401 for a missing, invalid or expired token, 431 for a request line and
headers over 10,240 bytes, 413 for a body over 10 MB, 502 for a failing function.
Like `sam local start-api`, URLs carry no stage prefix: http://127.0.0.1:3000/orders.

- `routes`: the API as the template defines it (resources, methods, integrations, authorizers);
- `authorizer`: the Cognito user pool check a route's authorizer makes;
- `proxy`: a request made into the Lambda proxy event, and the function's answer into the response;
- `gateway`: `ApiGateway`, which routes, authorizes, invokes and answers one request;
- `http_server`: HTTP in and out on a loopback socket.
"""
