using Analytics.Rollup;

namespace Analytics.Reports;

internal static class ReportsExtensions
{
    public static IHostApplicationBuilder AddRollupAndReports(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRollupAndReports();
        builder.Services.AddSingleton<RollupWorker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RollupWorker>());
        return builder;
    }

    /// <summary>What the CLI shares with the server: the rollup itself and report reading.</summary>
    public static IServiceCollection AddRollupAndReports(this IServiceCollection services)
    {
        services.AddOptions<RollupOptions>().BindConfiguration(RollupOptions.Section).ValidateOnStart()
            .Validate(o => o.Interval > TimeSpan.Zero && o.Retention >= TimeSpan.FromDays(2) && o.PairsPerWrite > 0, "Analytics:Rollup needs a positive Interval and PairsPerWrite and a Retention of 2 days or more.");
        services.AddOptions<ReportsOptions>().BindConfiguration(ReportsOptions.Section);
        services.AddSingleton<RollupRunner>();
        services.AddSingleton<Reconciler>();
        services.AddSingleton<ReportReader>();
        services.AddSingleton<DailyReportFiles>();
        return services;
    }
}
