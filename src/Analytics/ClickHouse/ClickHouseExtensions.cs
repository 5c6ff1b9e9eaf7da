using ClickHouse.Driver;

namespace Analytics.ClickHouse;

internal static class ClickHouseExtensions
{
    public const string DefaultConnection = "Host=127.0.0.1;Port=8123;Username=default";

    public static IHostApplicationBuilder AddClickHouse(this IHostApplicationBuilder builder)
    {
        builder.Services.AddClickHouse(builder.Configuration);
        builder.Services.AddHostedService<SchemaMigrator>();
        return builder;
    }

    /// <summary>Seconds to wait for ClickHouse to start answering a request, unless the connection string says (<c>Timeout=</c>).</summary>
    public const int DefaultTimeoutSeconds = 30;

    /// <summary>One client for the process (it pools its HTTP connections).</summary>
    public static IServiceCollection AddClickHouse(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(_ => new ClickHouseClient(WithTimeout(configuration.GetConnectionString("ClickHouse") ?? DefaultConnection)));
        services.AddSingleton<ClickHouseStatus>();
        return services;
    }

    /// <summary>
    /// The driver waits 120 s by default for a stalled server. The timeout covers the wait for the
    /// answer to begin, not the reading of it (a long export streams on), so 30 s is plenty for
    /// the queries here and lets a report or rollup fail, and say so, while ClickHouse hangs.
    /// </summary>
    internal static string WithTimeout(string connectionString)
    {
        var parts = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (!parts.ContainsKey("Timeout"))
        {
            parts["Timeout"] = DefaultTimeoutSeconds;
        }

        return parts.ConnectionString;
    }
}

/// <summary>Whether ClickHouse answers.</summary>
internal sealed class ClickHouseStatus(ClickHouseClient client)
{
    public async Task<bool> PingAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            return await client.PingAsync(cancellationToken: timeout.Token);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or InvalidOperationException)
        {
            return false;
        }
    }
}

/// <summary>Applies the migrations at start-up; while ClickHouse is unreachable it keeps trying in the background.</summary>
internal sealed class SchemaMigrator(ClickHouseClient client, ILogger<SchemaMigrator> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        for (var attempt = 1; !stoppingToken.IsCancellationRequested; attempt++)
        {
            try
            {
                await Schema.MigrateAsync(client, logger, stoppingToken);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                if (attempt == 1)
                {
                    logger.LogWarning(e, "ClickHouse schema migration failed; retrying every 5 s.");
                }

                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
            }
        }
    }
}
