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

    /// <summary>One client for the process (it pools its HTTP connections).</summary>
    public static IServiceCollection AddClickHouse(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(_ => new ClickHouseClient(configuration.GetConnectionString("ClickHouse") ?? DefaultConnection));
        services.AddSingleton<ClickHouseStatus>();
        return services;
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
