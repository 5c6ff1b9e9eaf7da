using StackExchange.Redis;

namespace Analytics.Infrastructure;

internal static class RedisExtensions
{
    public const string DefaultConnection = "127.0.0.1:6379";

    /// <summary>
    /// One multiplexer for the process. It never gives up connecting, and commands fail fast
    /// while Redis is away, so the counter writer can switch to buffering at once.
    /// </summary>
    public static IServiceCollection AddRedis(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var options = ConfigurationOptions.Parse(configuration.GetConnectionString("Redis") ?? DefaultConnection);
            options.AbortOnConnectFail = false;
            options.BacklogPolicy = BacklogPolicy.FailFast;
            options.ConnectTimeout = Math.Min(options.ConnectTimeout, 3000);
            options.ReconnectRetryPolicy = new LinearRetry(500);
            options.ClientName ??= "analytics";
            return ConnectionMultiplexer.Connect(options);
        });
        return services;
    }
}
