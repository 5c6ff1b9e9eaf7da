using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Analytics.Ingest;

internal static class IngestExtensions
{
    public static IHostApplicationBuilder AddIngest(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<IngestOptions>().BindConfiguration(IngestOptions.Section).ValidateOnStart()
            .Validate(o => o.ClientRateLimit >= 0, "Analytics:Ingest:ClientRateLimit must be 0 (off) or more.")
            .Validate(o => o.MaxBodyBytes > 0 && o.MaxBatchBytes > 0 && o.MaxBatchEvents > 0 && o.MaxUrlLength > 0,
                "Analytics:Ingest:MaxBodyBytes, MaxBatchBytes, MaxBatchEvents and MaxUrlLength must be positive.")
            .Validate<IOptions<Rollup.RollupOptions>>((o, rollup) => o.MaxBackfill >= TimeSpan.Zero && o.MaxBackfill <= rollup.Value.Retention - TimeSpan.FromDays(2),
                "Analytics:Ingest:MaxBackfill must be 0 or more and at least 2 days shorter than Analytics:Rollup:Retention (a back-filled day must still be in Redis).");
        builder.Services.AddSingleton<PageViews>();

        // Trackers post from any origin without credentials.
        builder.Services.AddCors(o => o.AddPolicy(IngestEndpoints.CorsPolicy, p => p.AllowAnyOrigin().AllowAnyHeader().AllowAnyMethod()
            .WithExposedHeaders(IngestEndpoints.IgnoredHeader)));

        // Client addresses behind a reverse proxy come from X-Forwarded-For: from a proxy on this
        // machine, or one named in Analytics:TrustedProxies (a load balancer in front of N nodes).
        builder.Services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<AnalyticsOptions>>((o, analytics) =>
        {
            // The client's address, scheme and the host it asked for (compared with a browser's Origin).
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            o.KnownProxies.Add(IPAddress.IPv6Loopback);
            o.KnownProxies.Add(IPAddress.Loopback);
            if (analytics.Value.TryTrustedNetworks(out var networks, out _))
            {
                foreach (var network in networks)
                {
                    o.KnownIPNetworks.Add(network);
                }
            }
        });

        builder.Services.AddSingleton<ClientRateLimiter>();
        return builder;
    }

    /// <summary>The pixel's fast path; after forwarded headers (client addresses), before routing.</summary>
    public static IApplicationBuilder UsePixel(this IApplicationBuilder app) => app.UseMiddleware<PixelMiddleware>();
}
