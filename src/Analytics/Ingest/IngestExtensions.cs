using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace Analytics.Ingest;

internal static class IngestExtensions
{
    public static IHostApplicationBuilder AddIngest(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<IngestOptions>().BindConfiguration(IngestOptions.Section).ValidateOnStart()
            .Validate(o => o.ClientRateLimit >= 0, "Analytics:Ingest:ClientRateLimit must be 0 (off) or more.");
        builder.Services.AddSingleton<PageViews>();

        // Trackers post from any origin without credentials.
        builder.Services.AddCors(o => o.AddPolicy(IngestEndpoints.CorsPolicy, p => p.AllowAnyOrigin().AllowAnyHeader().AllowAnyMethod()
            .WithExposedHeaders(IngestEndpoints.IgnoredHeader)));

        // Client addresses behind a reverse proxy on this machine come from X-Forwarded-For.
        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.KnownProxies.Add(IPAddress.IPv6Loopback);
            o.KnownProxies.Add(IPAddress.Loopback);
        });

        builder.Services.AddSingleton<ClientRateLimiter>();
        return builder;
    }

    /// <summary>The pixel's fast path; after forwarded headers (client addresses), before routing.</summary>
    public static IApplicationBuilder UsePixel(this IApplicationBuilder app) => app.UseMiddleware<PixelMiddleware>();
}
