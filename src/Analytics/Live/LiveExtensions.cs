using Analytics.Counting;
using Microsoft.AspNetCore.SignalR;

namespace Analytics.Live;

internal static class LiveExtensions
{
    public const string HubPath = "/hubs/live";

    public static IHostApplicationBuilder AddLive(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<LiveOptions>().BindConfiguration(LiveOptions.Section).ValidateOnStart()
            .Validate(o => o.Days is >= 1 and <= 366 && o.TopPages > 0 && o.RecheckInterval > TimeSpan.Zero && o.MinPushInterval >= TimeSpan.Zero && o.DayCheckInterval > TimeSpan.Zero,
                "Analytics:Live:Days must be 1–366; TopPages, RecheckInterval and DayCheckInterval positive; MinPushInterval 0 or more.");
        var signalR = builder.Services.AddSignalR(o => o.AddFilter<LiveHubErrors>());
        if (builder.Configuration.GetValue<bool>($"{LiveOptions.Section}:{nameof(LiveOptions.RedisBackplane)}"))
        {
            signalR.AddStackExchangeRedis(builder.Configuration.GetConnectionString("Redis") ?? Infrastructure.RedisExtensions.DefaultConnection,
                o => o.Configuration.ChannelPrefix = StackExchange.Redis.RedisChannel.Literal("a:signalr"));
        }

        builder.Services.AddSingleton<LiveSubscriptions>();
        builder.Services.AddSingleton<LiveConnections>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LiveConnections>());
        builder.Services.AddSingleton<TopPagesReader>();
        builder.Services.AddSingleton<LivePublisher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LivePublisher>());
        return builder;
    }

    public static IEndpointRouteBuilder MapLive(this IEndpointRouteBuilder app)
    {
        // The widget connects from any origin, without credentials.
        app.MapHub<LiveHub>(HubPath).RequireCors(Reads.CountsEndpoints.PublicCors);
        return app;
    }
}
