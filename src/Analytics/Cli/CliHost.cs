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
        // With the shipped defaults (no connection string of one's own), the local servers of
        // `analytics run` on the ports it was given.
        if (configuration.GetConnectionString("Redis") is null or DefaultRedis && Port("ANALYTICS_REDIS_PORT") is { } redisPort)
        {
            configuration["ConnectionStrings:Redis"] = $"127.0.0.1:{redisPort}";
        }

        if (configuration.GetConnectionString("ClickHouse") is null or DefaultClickHouse && Port("ANALYTICS_CLICKHOUSE_HTTP_PORT") is { } clickHousePort)
        {
            configuration["ConnectionStrings:ClickHouse"] = $"Host=127.0.0.1;Port={clickHousePort};Username=default";
        }

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

    // The connection strings appsettings.json ships with.
    private const string DefaultRedis = "127.0.0.1:6379";
    private const string DefaultClickHouse = "Host=127.0.0.1;Port=8123;Username=default";

    private static int? Port(string variable) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535
            ? port
            : null;

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
