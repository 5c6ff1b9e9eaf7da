using Analytics.ClickHouse;
using Analytics.Infrastructure;
using Analytics.Reports;
using Analytics.Sites;
using Analytics.Staff;
using Analytics.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Analytics.Cli;

/// <summary>
/// The services a command needs, configured like the server (appsettings.json, environment,
/// <c>--redis</c>/<c>--clickhouse</c>): the CLI talks to Redis and ClickHouse directly, so it
/// works whether or not a server is running.
/// </summary>
internal sealed class CliHost : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private CliHost(ServiceProvider services) => _services = services;

    public static CliHost Create(string? redis, string? clickHouse = null)
    {
        var configuration = new ConfigurationManager();
        configuration.SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables();
        if (!string.IsNullOrEmpty(redis))
        {
            configuration["ConnectionStrings:Redis"] = redis;
        }

        if (!string.IsNullOrEmpty(clickHouse))
        {
            configuration["ConnectionStrings:ClickHouse"] = clickHouse;
        }

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging(l => l.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning));
        services.AddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<Telemetry.AnalyticsMetrics>();
        services.AddRedis(configuration);
        services.AddSingleton<SiteStore>();
        services.AddSingleton<StaffStore>();
        services.AddSingleton<SiteRemoval>();
        services.AddClickHouse(configuration);
        services.AddRollupAndReports();
        services.AddCommandLineTelemetry(configuration);
        var provider = services.BuildServiceProvider();
        // No host starts them here: the providers begin listening when first asked for.
        _ = provider.GetService<MeterProvider>();
        _ = provider.GetService<TracerProvider>();
        return new CliHost(provider);
    }

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
