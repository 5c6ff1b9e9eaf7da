using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Analytics.Infrastructure;
using Analytics.Telemetry;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

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

        builder.Services.AddRateLimiter(o =>
        {
            o.AddPolicy(IngestEndpoints.RateLimitPolicy, context =>
            {
                var limit = context.RequestServices.GetRequiredService<IOptions<IngestOptions>>().Value.ClientRateLimit;
                var client = context.Connection.RemoteIpAddress?.ToString() ?? "";
                return limit == 0
                    ? RateLimitPartition.GetNoLimiter(client)
                    : RateLimitPartition.GetTokenBucketLimiter(client, _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = limit,
                        TokensPerPeriod = limit,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    });
            });
            o.OnRejected = (rejected, _) =>
            {
                var limit = rejected.HttpContext.RequestServices.GetRequiredService<IOptions<IngestOptions>>().Value.ClientRateLimit;
                rejected.HttpContext.RequestServices.GetRequiredService<AnalyticsMetrics>().Hit(HitOutcome.RateLimited, "any");
                rejected.HttpContext.Response.Headers.RetryAfter = "1";
                return new ValueTask(Problems.WriteAsync(rejected.HttpContext, StatusCodes.Status429TooManyRequests, "Too many requests",
                    string.Create(CultureInfo.InvariantCulture, $"This client sent more than {limit} hits a second (Analytics:Ingest:ClientRateLimit).")));
            };
        });
        return builder;
    }
}
