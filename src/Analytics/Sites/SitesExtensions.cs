namespace Analytics.Sites;

internal static class SitesExtensions
{
    public static IHostApplicationBuilder AddSites(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SiteStore>();
        builder.Services.AddSingleton<SiteRemoval>();
        builder.Services.AddHostedService<SiteWarmup>();
        return builder;
    }

    /// <summary>Loads the sites before the first hit, so ingest does not wait for Redis on it.</summary>
    private sealed class SiteWarmup(SiteStore sites, ILogger<SiteWarmup> logger) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            try
            {
                await sites.ReloadAsync();
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
            {
                logger.LogWarning("Redis is unreachable at start ({Reason}); sites load when it is back.", e.Message);
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
