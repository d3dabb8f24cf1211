FROM golang:1.26 AS build
LABEL maintainer="only the build stage"
RUN go build -o /app .

FROM build AS test
RUN go test ./...

FROM docker.io/library/debian:12
COPY --from=build /app /app
