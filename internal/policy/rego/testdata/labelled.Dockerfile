FROM golang:1.26@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS build
RUN go build -o /app .

FROM gcr.io/distroless/static-debian12
LABEL org.opencontainers.image.authors="team@example.com"
COPY --from=build /app /app
USER 65532
