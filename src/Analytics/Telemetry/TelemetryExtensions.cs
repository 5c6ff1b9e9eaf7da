using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Analytics.Telemetry;

internal static class TelemetryExtensions
{
    /// <summary>
    /// OpenTelemetry for the service: metrics always (scraped at /metrics); with
    /// OTEL_EXPORTER_OTLP_ENDPOINT set, metrics, traces and logs also go out over OTLP. Traces are
    /// only collected when they have somewhere to go, so the ingest hot path pays nothing for them.
    /// </summary>
    public static IHostApplicationBuilder AddTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<AnalyticsMetrics>();
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => Describe(r, builder.Configuration))
            .WithMetrics(metrics => metrics
                .AddMeter(AnalyticsTelemetry.Name)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        if (otlp)
        {
            telemetry
                .WithTracing(tracing => tracing
                    .AddSource(AnalyticsTelemetry.Name, "ClickHouse.Driver")
                    .AddAspNetCoreInstrumentation(o => o.Filter = c => !c.Request.Path.StartsWithSegments("/metrics"))
                    .AddRedisInstrumentation())
                .WithLogging()
                .UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>
    /// For the command line: with OTEL_EXPORTER_OTLP_ENDPOINT set, its traces (exports, rollups,
    /// ClickHouse, Redis) and the service's metrics go out over OTLP too, flushed when the command's
    /// services are disposed. Without it, nothing.
    /// </summary>
    public static IServiceCollection AddCommandLineTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            return services;
        }

        services.AddOpenTelemetry()
            .ConfigureResource(r => Describe(r, configuration))
            .WithMetrics(metrics => metrics.AddMeter(AnalyticsTelemetry.Name))
            .WithTracing(tracing => tracing.AddSource(AnalyticsTelemetry.Name, "ClickHouse.Driver").AddRedisInstrumentation())
            .UseOtlpExporter();
        return services;
    }

    /// <summary>The resource every signal carries: service name, version and instance.</summary>
    private static ResourceBuilder Describe(ResourceBuilder resource, IConfiguration configuration) => resource.AddService(
        serviceName: configuration["OTEL_SERVICE_NAME"] ?? "analytics",
        serviceVersion: AnalyticsTelemetry.Version,
        serviceInstanceId: $"{Environment.MachineName}:{Environment.ProcessId}");

    public static IEndpointRouteBuilder MapTelemetry(this IEndpointRouteBuilder app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
