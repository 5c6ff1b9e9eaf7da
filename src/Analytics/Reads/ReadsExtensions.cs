namespace Analytics.Reads;

internal static class ReadsExtensions
{
    public static IHostApplicationBuilder AddReads(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<CountsReader>();
        // Public counters are read from any site that embeds them.
        builder.Services.AddCors(o => o.AddPolicy(CountsEndpoints.PublicCors, p => p.AllowAnyOrigin().AllowAnyHeader().WithMethods("GET")));
        return builder;
    }
}
